"""The riders: the athletes spreadsheet (CSV export) and each rider's hidden physiology for the generator.

Riders are spread over 22 teams, one per team before the next slot fills, so any rider count has a mix of
roles: slot 0 is a team's leader (a general classification rider or a sprinter, alternating by team),
slot 1 a climber, slot 2 a rouleur, later slots domestiques. The sheet holds what a team publishes (id,
name, team, nationality, birth date, height, weight); the physiology (threshold power, W', sprint, heart
rate range) stays inside the generator. The same (seed, count) always gives the same riders.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

TEAMS = (
    "Azur Cycling", "Team Borealis", "Cascade Pro", "Dauphiné Energies", "Equipe Émeraude", "Fjord Racing",
    "Garrigue Vélo", "Helvetia Peaks", "Ibérica Sol", "Jura Express", "Kestrel Factory", "Lagune Bleue",
    "Mistral Team", "Nordic Wolves", "Olivier Cycling", "Pyrène Racing", "Quartz Pro Team", "Rhône Valley",
    "Sierra Nevada CC", "Tramontane", "Umbria Velo", "Vosges Aventure",
)  # fmt: skip
NATIONS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "FRA": (("Julien", "Romain", "Thibaut", "Valentin", "Kévin", "Bastien"),
            ("Moreau", "Lefèvre", "Garnier", "Rolland", "Chevalier", "Barbier")),
    "BEL": (("Wout", "Remco", "Jasper", "Tiesj", "Arnaud", "Victor"),
            ("Peeters", "Janssens", "Maes", "Claes", "Wouters", "Goossens")),
    "ESP": (("Alejandro", "Marc", "Enric", "Carlos", "Pello", "Iván"),
            ("García", "Soler", "Mas", "Rodríguez", "Herrada", "Castrillo")),
    "ITA": (("Giulio", "Filippo", "Alberto", "Davide", "Matteo", "Lorenzo"),
            ("Rossi", "Ganna", "Bettiol", "Ciccone", "Formolo", "Milan")),
    "NED": (("Dylan", "Bauke", "Wilco", "Thymen", "Koen", "Mathieu"),
            ("de Vries", "Mollema", "Kelderman", "Arensman", "Bouwman", "van Baarle")),
    "DEN": (("Jonas", "Mads", "Mattias", "Magnus", "Kasper", "Søren"),
            ("Nielsen", "Pedersen", "Skjelmose", "Cort", "Asgreen", "Kragh")),
    "GBR": (("Tom", "Adam", "Simon", "Ethan", "Oscar", "Fred"),
            ("Pidcock", "Yates", "Carthy", "Hayter", "Onley", "Wright")),
    "SLO": (("Primož", "Tadej", "Matej", "Jan", "Domen", "Luka"),
            ("Mezgec", "Novak", "Mohorič", "Polanc", "Tratnik", "Kovač")),
    "COL": (("Egan", "Nairo", "Sergio", "Daniel", "Esteban", "Harold"),
            ("Bernal", "Quintana", "Higuita", "Martínez", "Chaves", "Tejada")),
    "AUS": (("Ben", "Michael", "Caleb", "Jai", "Luke", "Kaden"),
            ("O'Connor", "Matthews", "Ewan", "Vine", "Plapp", "Groves")),
    "GER": (("Nils", "Max", "Lennard", "Marco", "Georg", "Florian"),
            ("Politt", "Schachmann", "Kämna", "Brenner", "Zimmermann", "Lipowitz")),
    "USA": (("Sepp", "Neilson", "Matteo", "Brandon", "Quinn", "Magnus"),
            ("Kuss", "Powless", "Jorgenson", "McNulty", "Simmons", "Sheffield")),
    "NOR": (("Tobias", "Alexander", "Søren", "Jonas", "Markus", "Anders"),
            ("Johannessen", "Kristoff", "Wærenskjold", "Abrahamsen", "Hoelgaard", "Halland")),
    "SUI": (("Marc", "Stefan", "Mauro", "Gino", "Silvan", "Jan"),
            ("Hirschi", "Küng", "Schmid", "Mäder", "Dillier", "Christen")),
}  # fmt: skip
LEADER_GC, LEADER_SPRINT, CLIMBER, ROULEUR, DOMESTIQUE = "gc", "sprinter", "climber", "rouleur", "domestique"
# role -> (threshold W/kg range, weight kg range, sprint boost range, W' kJ range)
ROLE_PHYSIOLOGY: dict[str, tuple[tuple[float, float], ...]] = {
    LEADER_GC: ((6.25, 6.6), (58.0, 67.0), (0.03, 0.06), (18.0, 24.0)),
    CLIMBER: ((6.0, 6.35), (56.0, 65.0), (0.02, 0.05), (16.0, 22.0)),
    LEADER_SPRINT: ((5.0, 5.35), (70.0, 80.0), (0.20, 0.28), (24.0, 32.0)),
    ROULEUR: ((5.45, 5.85), (70.0, 80.0), (0.06, 0.10), (20.0, 26.0)),
    DOMESTIQUE: ((5.35, 5.9), (62.0, 74.0), (0.02, 0.07), (16.0, 22.0)),
}
CSV_COLUMNS = ("rider_id", "name", "team", "nationality", "birth_date", "height_cm", "weight_kg")


@dataclass(frozen=True)
class Rider:
    """One rider: the sheet's fields, and the physiology only the generator knows."""

    rider_id: int
    name: str
    team: str
    nationality: str
    birth_date: date
    height_cm: int
    weight_kg: float
    role: str
    ftp_wkg: float  # threshold power per kilogram
    w_prime_j: float  # work capacity above threshold
    sprint: float  # top-speed gain over the bunch in a sprint (fraction)
    hr_rest: int
    hr_max: int
    has_power: bool
    has_heart_rate: bool
    has_cadence: bool

    @property
    def ftp_w(self) -> float:
        """Threshold power in watts."""
        return self.ftp_wkg * self.weight_kg


def _role(team: int, slot: int) -> str:
    if slot == 0:
        return LEADER_GC if team % 2 == 0 else LEADER_SPRINT
    return {1: CLIMBER, 2: ROULEUR}.get(slot, DOMESTIQUE)


def generate_riders(seed: int, count: int) -> list[Rider]:
    """`count` riders over 22 teams; rider ids are bib numbers (team * 10 + slot + 1)."""
    riders = []
    nations = sorted(NATIONS)
    for index in range(count):
        team, slot = index % len(TEAMS), index // len(TEAMS)
        rng = np.random.default_rng([seed, team, slot, 11])
        role = _role(team, slot)
        (ftp_lo, ftp_hi), (kg_lo, kg_hi), (sp_lo, sp_hi), (wp_lo, wp_hi) = ROLE_PHYSIOLOGY[role]
        nation = nations[int(rng.integers(len(nations)))]
        first_names, last_names = NATIONS[nation]
        weight = round(float(rng.uniform(kg_lo, kg_hi)), 1)
        height = round(float(158 + (weight - 52) * 1.05 + rng.normal(0, 3)))
        born = date(1990, 1, 1) + timedelta(days=int(rng.integers(0, 14 * 365)))
        hr_max = int(rng.integers(182, 200))
        riders.append(
            Rider(
                rider_id=(team + 1) * 10 + slot + 1,
                name=f"{first_names[int(rng.integers(6))]} {last_names[int(rng.integers(6))]}",
                team=TEAMS[team],
                nationality=nation,
                birth_date=born,
                height_cm=height,
                weight_kg=weight,
                role=role,
                ftp_wkg=float(rng.uniform(ftp_lo, ftp_hi)),
                w_prime_j=float(rng.uniform(wp_lo, wp_hi)) * 1000,
                sprint=float(rng.uniform(sp_lo, sp_hi)),
                hr_rest=int(rng.integers(38, 50)),
                hr_max=hr_max,
                has_power=bool(rng.random() < 0.8),
                has_heart_rate=bool(rng.random() < 0.9),
                has_cadence=bool(rng.random() < 0.75),
            )
        )
    return riders


def athletes_csv(riders: list[Rider]) -> bytes:
    """The athletes spreadsheet as exported to CSV."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for r in riders:
        writer.writerow(
            (
                r.rider_id,
                r.name,
                r.team,
                r.nationality,
                r.birth_date.isoformat(),
                r.height_cm,
                f"{r.weight_kg:.1f}",
            )
        )
    return out.getvalue().encode("utf-8")
