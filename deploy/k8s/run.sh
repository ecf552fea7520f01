#!/bin/sh
# Runs one distributed wsbench: the shard Job, then the merge Job, then prints the merged
# report. Kubernetes schedules, retries nothing, and reports; there is no coordinator of ours.
#   deploy/k8s/run.sh [lead-seconds]     (lead: how far ahead the shards start; default 60)
#   FLOW=chat.yaml [DATA=users.csv] deploy/k8s/run.sh [lead-seconds]
#       runs a flow: the file (as flow.yaml) and its CSV data go into a ConfigMap that
#       flow-shards-job.yaml mounts at /flow (ConfigMaps hold up to 1 MiB in all).
set -eu
here=$(dirname "$0")
lead=${1:-60}
run_id=$(date -u +%Y%m%d-%H%M%S)
start_at=$(date -u -d "+${lead} seconds" +%Y-%m-%dT%H:%M:%SZ 2>/dev/null || date -u -v+"${lead}"S +%Y-%m-%dT%H:%M:%SZ)
subst() { sed -e "s/__RUN_ID__/$run_id/g" -e "s/__START_AT__/$start_at/g" "$1"; }

kubectl apply -f "$here/results-pvc.yaml"
echo "run $run_id: shards start at $start_at"
job="$here/shards-job.yaml"
if [ -n "${FLOW:-}" ]; then
	set -- --from-file=flow.yaml="$FLOW"
	[ -z "${DATA:-}" ] || set -- "$@" --from-file="$DATA"
	kubectl create configmap "wsbench-flow-$run_id" "$@"
	kubectl label configmap "wsbench-flow-$run_id" app=wsbench run="$run_id"
	job="$here/flow-shards-job.yaml"
fi
subst "$job" | kubectl apply -f -
# Generous: lead time + ramp + warm-up + duration + drain; adjust with the job's flags.
kubectl wait --for=condition=complete --timeout=30m "job/wsbench-shards-$run_id" || {
	echo "shard job did not complete:"; kubectl get pods -l "run=$run_id"; exit 1; }
subst "$here/merge-job.yaml" | kubectl apply -f -
kubectl wait --for=condition=complete --timeout=5m "job/wsbench-merge-$run_id"
kubectl logs "job/wsbench-merge-$run_id"
echo "merged result: /results/$run_id/merged.json and report.html on the wsbench-results volume"
