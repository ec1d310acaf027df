#!/usr/bin/env bash
# Set up everything the lakehouse needs on this machine, idempotently (a second run takes seconds):
#   1. a virtual environment in .venv with the project and its test tools (from pyproject.toml);
#   2. the JVM jars (Delta Lake; hadoop-aws and the AWS SDK for s3a) from Maven Central through Maven,
#      listed in .cache/jvm/classpath.txt, which the session factory hands to Spark as `spark.jars`.
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

# 1. Python environment, reinstalled only when pyproject.toml changes.
if [ ! -x .venv/bin/python ]; then
  say "creating .venv"
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)
if [ ! -f "$stamp" ]; then
  say "installing the project and its test tools into .venv (first time: a minute or two)"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
  rm -f .venv/.installed-* && touch "$stamp"
fi

# 2. JVM jars matching the installed pyspark and delta-spark.
delta_version=$(.venv/bin/python -c 'import importlib.metadata as m; print(m.version("delta-spark"))')
pyspark_jars=$(.venv/bin/python -c 'import os, pyspark; print(os.path.join(os.path.dirname(pyspark.__file__), "jars"))')
hadoop_jar=$(ls "$pyspark_jars"/hadoop-client-api-*.jar 2>/dev/null | head -1)
[ -n "$hadoop_jar" ] || die "cannot find hadoop-client-api in $pyspark_jars"
hadoop_version=$(basename "$hadoop_jar" .jar); hadoop_version=${hadoop_version#hadoop-client-api-}
case "$hadoop_version" in
  3.4.1) awssdk_version=2.24.6 ;;   # the bundle hadoop-aws 3.4.1 was built and tested with
  3.4.2) awssdk_version=2.29.52 ;;
  *) die "no known AWS SDK bundle for Hadoop $hadoop_version: add it to scripts/setup.sh" ;;
esac

mkdir -p .cache/jvm
classpath=.cache/jvm/classpath.txt
want="delta=$delta_version hadoop=$hadoop_version awssdk=$awssdk_version"
if [ -f "$classpath" ] && [ "$(cat .cache/jvm/versions 2>/dev/null)" = "$want" ] \
   && tr ':' '\n' < "$classpath" | xargs -r ls >/dev/null 2>&1; then
  say "jars ready ($want)"
else
  say "resolving jars from Maven Central ($want; the AWS SDK bundle is ~560 MB the first time)"
  mvn_args=(-q -B -f jvm/pom.xml dependency:build-classpath
            -Ddelta.version="$delta_version" -Dhadoop.version="$hadoop_version" -Dawssdk.version="$awssdk_version"
            -Dmdep.outputFile="$PWD/$classpath")
  mvn "${mvn_args[@]}" >&2 || { say "online resolution failed; trying Maven's offline cache"; mvn -o "${mvn_args[@]}" >&2; }
  echo "$want" > .cache/jvm/versions
fi
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

say "ready: .venv ($(.venv/bin/python --version 2>&1)), pyspark $(.venv/bin/python -c 'import pyspark; print(pyspark.__version__)'), delta-spark $delta_version"
