#!/bin/sh
# Registers the Temporal namespace Charmelio uses, unless it exists. Run by the one-shot
# `temporal-namespace` service (temporalio/admin-tools) once the server answers.
set -eu
NAMESPACE="${NAMESPACE:-default}"
ADDRESS="${TEMPORAL_ADDRESS:-temporal:7233}"
attempt=0
until temporal operator cluster health --address "$ADDRESS"; do
    attempt=$((attempt + 1))
    if [ "$attempt" -ge 30 ]; then
        echo "Temporal at $ADDRESS is not healthy" >&2
        exit 1
    fi
    sleep 2
done
temporal operator namespace describe --namespace "$NAMESPACE" --address "$ADDRESS" \
    || temporal operator namespace create --namespace "$NAMESPACE" --retention 30d --address "$ADDRESS"
echo "namespace $NAMESPACE is registered"
