#!/usr/bin/env bash
# Run a job with spark-submit, locally or on a cluster, unchanged:
#   ./spark-submit.sh jobs/pipeline.py --stage bronze
#   SPARK_MASTER=spark://host:7077 ./spark-submit.sh jobs/pipeline.py --env cluster
#   SPARK_MASTER=yarn DEPLOY_MODE=cluster ./spark-submit.sh jobs/pipeline.py --env cluster
# The library (with its JSON Schemas and conf/) is shipped as a zip with --py-files. Delta's and s3a's jars
# come from the Maven cache made by scripts/setup.sh when it exists, else through --packages. The driver names
# the tables `layer.table` in the lakehouse's local metastore (started on demand; `[metastore] mode = "external"`
# on a cluster with its own).
# Executors also need the Python packages in pyproject.toml (jsonschema above all): install them on the
# cluster's nodes, or ship a packed environment with --archives (see the README).
set -euo pipefail
cd "$(dirname "$0")"
[ $# -ge 1 ] || { echo "usage: $0 jobs/<job>.py [job arguments]" >&2; exit 2; }

SPARK_SUBMIT=${SPARK_HOME:+$SPARK_HOME/bin/spark-submit}
SPARK_SUBMIT=${SPARK_SUBMIT:-.venv/bin/spark-submit}
[ -x "$SPARK_SUBMIT" ] || { echo "spark-submit not found: run scripts/setup.sh or set SPARK_HOME" >&2; exit 2; }
PYTHON=${PYSPARK_PYTHON:-$PWD/.venv/bin/python}

# The library as a zip: lakehouse/ (and the demo's lakehouse_demo/) plus schemas/ and conf/ inside it (found there when not beside it).
mkdir -p .cache/dist
zip_file=.cache/dist/lakehouse.zip
"$PYTHON" - "$zip_file" <<'PY'
import pathlib, sys, zipfile
out = pathlib.Path(sys.argv[1])
with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
    for path in sorted([*pathlib.Path("lakehouse").rglob("*"), *pathlib.Path("lakehouse_demo").rglob("*")]):
        if path.is_file() and "__pycache__" not in path.parts:
            z.write(path, path.as_posix())
    for folder, inside in (("schemas", "lakehouse/_schemas"), ("conf", "lakehouse/_conf")):
        for path in sorted(pathlib.Path(folder).glob("*")):
            z.write(path, f"{inside}/{path.name}")
    for path in sorted(pathlib.Path("jobs").glob("*.py")):
        z.write(path, path.as_posix())
PY

versions=$("$PYTHON" - <<'PY'
import importlib.metadata as m, pathlib, pyspark
jars = pathlib.Path(pyspark.__file__).parent / "jars"
hadoop = next(jars.glob("hadoop-client-api-*.jar")).stem.removeprefix("hadoop-client-api-")
print(m.version("delta-spark"), ".".join(pyspark.__version__.split(".")[:2]), hadoop)
PY
)
read -r delta_version spark_line hadoop_version <<<"$versions"
master=${SPARK_MASTER:-local[2]}
jar_args=()
if [ -f .cache/jvm/classpath.txt ] && [ -z "${USE_PACKAGES:-}" ]; then
  # In client mode the jars go on the driver's own classpath: the local metastore's JDBC client is loaded there
  # (lakehouse/metastore.py), and so are the catalogs of the Thrift server's sessions (jobs/sql_server.py).
  [ "${DEPLOY_MODE:-client}" = cluster ] || jar_args=(--driver-class-path "$(cat .cache/jvm/classpath.txt)")
  # Executors in other JVMs fetch them from the driver (--jars). A local master's executor is the driver's JVM:
  # --jars there would only copy them (~700 MB with the AWS SDK) into a temporary folder at every start.
  case "$master" in
    local | "local["*) ;;
    *) jar_args+=(--jars "$(tr ':' ',' < .cache/jvm/classpath.txt)") ;;
  esac
else
  # Delta's artifact names carry the Spark line (delta-spark_4.2_2.13); hadoop-aws brings its AWS SDK bundle.
  jar_args=(--packages "io.delta:delta-spark_${spark_line}_2.13:${delta_version},org.apache.hadoop:hadoop-aws:${hadoop_version}")
fi

exec env PYSPARK_PYTHON="$PYTHON" "$SPARK_SUBMIT" \
  --master "$master" \
  --deploy-mode "${DEPLOY_MODE:-client}" \
  --name "fitness-lakehouse:$(basename "$1" .py)" \
  "${jar_args[@]}" \
  --py-files "$zip_file" \
  --conf spark.sql.extensions=io.delta.sql.DeltaSparkSessionExtension \
  --conf spark.sql.catalog.spark_catalog=org.apache.spark.sql.delta.catalog.DeltaCatalog \
  --conf spark.sql.session.timeZone=UTC \
  --conf spark.ui.showConsoleProgress=false \
  ${SPARK_SUBMIT_EXTRA:-} \
  "$@"
