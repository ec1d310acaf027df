#!/usr/bin/env bash
# Set up everything the lakehouse needs on this machine, idempotently (a second run takes seconds):
#   1. a virtual environment in .venv with the project and its test tools (from pyproject.toml);
#   2. the JVM jars (Delta Lake; hadoop-aws and the AWS SDK for s3a; Derby's network server and client for the
#      local metastore) from Maven Central through Maven,
#      listed in .cache/jvm/classpath.txt, which the session factory puts on a local session's class path;
#   5. the class-data archive for faster Spark starts kept up to date, if you made one (lakehouse/classdata.py).
# Needs Python 3.11+, a JDK 17+ and Maven (mvn). Everything it makes is git-ignored.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '[setup] %s\n' "$*" >&2; }
die() { printf '[setup] error: %s\n' "$*" >&2; exit 1; }

PYTHON=${PYTHON:-python3}
command -v "$PYTHON" >/dev/null || die "$PYTHON not found: install Python 3.11 or newer"
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || die "Python 3.11+ is needed, found $("$PYTHON" --version 2>&1)"
command -v java >/dev/null || die "java not found: install a JDK 17 or newer"
java_major=$(java -XshowSettings:properties -version 2>&1 | awk -F'= ' '/java.specification.version/ {print $2}')
[ "${java_major%%.*}" -ge 17 ] 2>/dev/null || die "JDK 17+ is needed, found java ${java_major:-unknown}"
command -v mvn >/dev/null || die "mvn not found: install Maven (Debian: apt-get install maven)"

# 3./4. Debian's packages, installed in the background while pip and Maven download (apt-get holds dpkg's lock,
#      so the two packages go one after the other); the script waits for them before it says it is ready.
debian_packages() {
  # 3. Debian's chromium for the dashboard's browser smoke test (Playwright drives it; never `playwright install`).
  if [ -x /usr/bin/chromium ]; then
    say "chromium ready (/usr/bin/chromium)"
  elif [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
    say "chromium not installed and cannot install it here (needs root and apt-get): the browser smoke test will" \
        "be skipped; install Debian's chromium package to run it"
  else
    say "installing Debian's chromium (browser smoke test)"
    { apt-get install -y -q chromium >/dev/null 2>&1 \
      || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium >/dev/null 2>&1; }; } \
      || say "could not install chromium; the browser smoke test will be skipped"
  fi

  # 4. A native BLAS for Spark MLlib (the class-data regression): without libblas.so.3 it logs a netlib warning
  #    and uses its Java fallback. Optional: nothing fails without it.
  if ldconfig -p 2>/dev/null | grep -q 'libblas\.so\.3'; then
    :
  elif [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    say "installing Debian's libopenblas0 (native BLAS for Spark MLlib)"
    { apt-get install -y -q libopenblas0 >/dev/null 2>&1 \
      || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q libopenblas0 >/dev/null 2>&1; }; } \
      || say "could not install libopenblas0; MLlib uses its Java BLAS instead (slower)"
  fi
}
debian_packages &
debian_pid=$!

# 1. Python environment, reinstalled only when pyproject.toml changes.
if [ ! -x .venv/bin/python ]; then
  say "creating .venv"
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)
if [ ! -f "$stamp" ]; then
  say "installing the project and its test tools into .venv (first time: about a minute)"
  # uv (from PyPI) downloads in parallel and installs fast: about a minute on a fresh machine, where pip alone
  # takes two and a half (pyspark's 450 MB). pip does it if uv cannot be had.
  if ! { .venv/bin/python -m pip install --quiet --disable-pip-version-check 'uv>=0.9,<1' \
         && .venv/bin/uv pip install --quiet --python .venv/bin/python -e '.[test]'; }; then
    say "uv could not install it; installing with pip instead"
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
  fi
  rm -f .venv/.installed-* && touch "$stamp"
fi

# 2. JVM jars matching the installed pyspark and delta-spark. Every version is derived, none kept by hand:
#    Delta's artifact carries the Spark line (delta-spark_<spark major.minor>_2.13); hadoop-aws matches the Hadoop
#    client inside pyspark's jars; the AWS SDK bundle is the one hadoop-aws's own POM depends on.
delta_version=$(.venv/bin/python -c 'import importlib.metadata as m; print(m.version("delta-spark"))')
spark_line=$(.venv/bin/python -c 'import pyspark; print(".".join(pyspark.__version__.split(".")[:2]))')
pyspark_jars=$(.venv/bin/python -c 'import os, pyspark; print(os.path.join(os.path.dirname(pyspark.__file__), "jars"))')
hadoop_jar=$(ls "$pyspark_jars"/hadoop-client-api-*.jar 2>/dev/null | head -1)
[ -n "$hadoop_jar" ] || die "cannot find hadoop-client-api in $pyspark_jars"
hadoop_version=$(basename "$hadoop_jar" .jar); hadoop_version=${hadoop_version#hadoop-client-api-}

mkdir -p .cache/jvm
derby_jar=$(ls "$pyspark_jars"/derby-[0-9]*.jar 2>/dev/null | head -1)
[ -n "$derby_jar" ] || die "cannot find derby in $pyspark_jars"
derby_version=$(basename "$derby_jar" .jar); derby_version=${derby_version#derby-}
s3_deps_cache=.cache/jvm/s3-deps-for-hadoop-$hadoop_version
if [ ! -s "$s3_deps_cache" ]; then
  # hadoop-aws's effective POM (its parent's properties filled in) names the AWS SDK bundle it was built with,
  # and (Hadoop 3.4.2+) the S3 analytics accelerator it needs at run time.
  say "reading hadoop-aws $hadoop_version's POM for the AWS SDK bundle version it was built with"
  effective_pom=$(mktemp)
  help_args=(-q -B -f jvm/pom.xml org.apache.maven.plugins:maven-help-plugin:3.5.1:effective-pom
             -Dartifact="org.apache.hadoop:hadoop-aws:$hadoop_version" -Doutput="$effective_pom")
  mvn "${help_args[@]}" >&2 || mvn -o "${help_args[@]}" >&2 || die "cannot read hadoop-aws $hadoop_version's POM"
  "$PYTHON" - "$effective_pom" > "$s3_deps_cache" <<'PY'
import sys
import xml.etree.ElementTree as ET

ns = {"m": "http://maven.apache.org/POM/4.0.0"}
wanted = {("software.amazon.awssdk", "bundle"): "awssdk", ("software.amazon.s3.analyticsaccelerator", "analyticsaccelerator-s3"): "analytics"}
for dep in ET.parse(sys.argv[1]).getroot().findall("m:dependencies/m:dependency", ns):
    key = (dep.findtext("m:groupId", namespaces=ns), dep.findtext("m:artifactId", namespaces=ns))
    if key in wanted and dep.findtext("m:scope", "compile", namespaces=ns) == "compile":
        print(f"{wanted[key]}={dep.findtext('m:version', namespaces=ns)}")
PY
  rm -f "$effective_pom"
fi
awssdk_version=$(sed -n 's/^awssdk=//p' "$s3_deps_cache")
analytics_version=$(sed -n 's/^analytics=//p' "$s3_deps_cache")
[ -n "$awssdk_version" ] || { rm -f "$s3_deps_cache"; die "hadoop-aws $hadoop_version's POM names no AWS SDK bundle"; }

classpath=.cache/jvm/classpath.txt
want="delta=$delta_version spark=$spark_line hadoop=$hadoop_version awssdk=$awssdk_version analytics=${analytics_version:-none} derby=$derby_version"
if [ -f "$classpath" ] && [ "$(cat .cache/jvm/versions 2>/dev/null)" = "$want" ] \
   && tr ':' '\n' < "$classpath" | xargs -r ls >/dev/null 2>&1; then
  say "jars ready ($want)"
else
  say "resolving jars from Maven Central ($want; the AWS SDK bundle is ~560 MB the first time)"
  mvn_args=(-q -B -f jvm/pom.xml dependency:build-classpath
            -Ddelta.version="$delta_version" -Dspark.binary.version="$spark_line" -Dhadoop.version="$hadoop_version" -Dawssdk.version="$awssdk_version"
            -Dderby.version="$derby_version" ${analytics_version:+-Danalytics.version="$analytics_version"}
            -Dmdep.outputFile="$PWD/$classpath")
  mvn "${mvn_args[@]}" >&2 || { say "online resolution failed; trying Maven's offline cache"; mvn -o "${mvn_args[@]}" >&2; }
  echo "$want" > .cache/jvm/versions
fi
# 5. The class-data archive (lakehouse/classdata.py), if you made one (`.venv/bin/python -m lakehouse.classdata`:
#    every local job then starts a few seconds sooner): made again when the jars or the JDK changed.
.venv/bin/python -m lakehouse.classdata --refresh || say "could not re-make the class-data archive: Spark starts without it"
wait "$debian_pid" || true
say "ready: .venv ($(.venv/bin/python --version 2>&1)), pyspark $(.venv/bin/python -c 'import pyspark; print(pyspark.__version__)'), delta-spark $delta_version"
