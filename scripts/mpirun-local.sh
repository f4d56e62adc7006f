#!/usr/bin/env bash
# Runs a command as N MPI processes on this machine with Open MPI's mpirun, with the options that
# make it work as root, in a container and on a machine with fewer cores than processes:
#   --oversubscribe       more processes than the slots (cores) Open MPI finds
#   --bind-to none        no pinning: a process's step-measuring threads may use any core
#   --mca btl self,vader  shared memory only, no probing of network interfaces
#   --mca btl_vader_single_copy_mechanism none
#                         copy through the shared segment: containers without ptrace rights refuse
#                         the default cross-memory attach (process_vm_readv)
#   OMPI_ALLOW_RUN_AS_ROOT(_CONFIRM)=1 as root: mpirun refuses root unless told twice
# $MPIEXEC names another mpirun (default: mpirun on the PATH).
#
# Usage: scripts/mpirun-local.sh N COMMAND [ARGS...]
#   e.g. scripts/mpirun-local.sh 2 build/tools/seedchip sweep SWEEP.yaml --json out.json
set -euo pipefail

if [ $# -lt 2 ]; then
  echo "usage: $0 N COMMAND [ARGS...]" >&2
  exit 2
fi
n=$1
shift
if [ "$(id -u)" -eq 0 ]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
exec "${MPIEXEC:-mpirun}" --oversubscribe --bind-to none --mca btl self,vader \
  --mca btl_vader_single_copy_mechanism none -n "$n" "$@"
