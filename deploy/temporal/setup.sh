#!/bin/sh
# One-shot (temporalio/admin-tools): waits for the Temporal frontend, creates the namespace when missing and
# registers every search attribute of SEARCH_ATTRIBUTES ("Name=Type ...", from src/domain/search-attributes.ts)
# that the namespace lacks, then waits until all are listed. Safe to run on every `up`. When it created anything,
# it waits a further CACHE_SECONDS (65) before it exits: the server's services cache the namespace and the
# search attribute types for up to a minute (dynamicconfig.yaml), and the workers start after this job.
set -eu
: "${TEMPORAL_ADDRESS:?}" "${NAMESPACE:?}" "${SEARCH_ATTRIBUTES:?}"
: "${NAMESPACE_RETENTION:=72h}" "${WAIT_SECONDS:=120}" "${CACHE_SECONDS:=65}"
created=0

deadline=$(($(date +%s) + WAIT_SECONDS))
wait_for() {
  what=$1
  shift
  until "$@" >/dev/null 2>&1; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
      echo "gave up waiting for $what after ${WAIT_SECONDS}s" >&2
      "$@" >&2 || true
      exit 1
    fi
    sleep 2
  done
}

wait_for "the Temporal frontend at $TEMPORAL_ADDRESS" temporal operator cluster health --address "$TEMPORAL_ADDRESS"
if temporal operator namespace describe --address "$TEMPORAL_ADDRESS" -n "$NAMESPACE" >/dev/null 2>&1; then
  echo "namespace $NAMESPACE exists"
else
  temporal operator namespace create --address "$TEMPORAL_ADDRESS" -n "$NAMESPACE" --retention "$NAMESPACE_RETENTION"
  echo "created namespace $NAMESPACE (retention $NAMESPACE_RETENTION)"
  created=1
fi
wait_for "namespace $NAMESPACE" temporal operator namespace describe --address "$TEMPORAL_ADDRESS" -n "$NAMESPACE"

listed() {
  temporal operator search-attribute list --address "$TEMPORAL_ADDRESS" -n "$NAMESPACE" -o json
}
wait_for "the search attributes of $NAMESPACE" listed
present=$(listed)
for pair in $SEARCH_ATTRIBUTES; do
  name=${pair%%=*}
  type=${pair#*=}
  case "$present" in
    *"\"$name\""*) echo "search attribute $name exists" ;;
    *)
      temporal operator search-attribute create --address "$TEMPORAL_ADDRESS" -n "$NAMESPACE" \
        --name "$name" --type "$type"
      echo "registered search attribute $name ($type)"
      created=1
      ;;
  esac
done

all_listed() {
  now=$(listed)
  for pair in $SEARCH_ATTRIBUTES; do
    case "$now" in *"\"${pair%%=*}\""*) ;; *) return 1 ;; esac
  done
}
wait_for "search attributes to be listed" all_listed
if [ "$created" = 1 ]; then
  echo "waiting ${CACHE_SECONDS}s for every Temporal service to load the new namespace settings"
  sleep "$CACHE_SECONDS"
fi
echo "namespace $NAMESPACE is ready with: $SEARCH_ATTRIBUTES"
