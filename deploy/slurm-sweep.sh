#!/bin/bash
# Runs a kinesim sweep as a Slurm array job: one array task per partition, each writing
# its slice of the jobs to its own folder; then merge them (on any node, once all are
# done) into the outputs a single machine would have produced.
#
#   sbatch --array=0-15 deploy/slurm-sweep.sh experiments/sweeps/shard-count.toml results/shard-count
#   # when the array has finished (or as a dependent job: sbatch --dependency=afterok:<id> ...):
#   kinesim merge results/shard-count/part-* --out results/shard-count/merged
#
# A task that was preempted or killed can be resubmitted with the same index: --resume
# keeps the jobs it had finished. Results do not depend on the number of tasks.
#SBATCH --job-name=kinesim-sweep
#SBATCH --cpus-per-task=4
#SBATCH --time=02:00:00
#SBATCH --output=kinesim-sweep-%A_%a.log
set -euo pipefail

experiment="$1"
results="$2"
parts="${SLURM_ARRAY_TASK_COUNT:?run this with sbatch --array=0-<N-1>}"
index="${SLURM_ARRAY_TASK_ID:?run this with sbatch --array=0-<N-1>}"

kinesim sweep "$experiment" \
    --partition "${index}/${parts}" \
    --threads "${SLURM_CPUS_PER_TASK:-1}" \
    --out "${results}/part-${index}" \
    --resume
