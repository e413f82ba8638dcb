#!/usr/bin/env bash
# Run a command with Debian's Prometheus server available to the tests.
#
#   scripts/with-prometheus.sh .venv/bin/python -m pytest
#
# Finds the `prometheus` binary (PROMETHEUS_BIN, PATH, /usr/bin), installs Debian's
# `prometheus` package when it is missing, and exports
#   RECEIPTS_TEST_PROMETHEUS_BIN=/path/to/prometheus
#   RECEIPTS_REQUIRE_PROMETHEUS=1
# for the command. The tests (tests/test_prometheus_server.py) start their own server per module
# on a free port on 127.0.0.1, with a temporary TSDB and a configuration whose scrape targets are
# simulated exporters on 127.0.0.1, and stop it when they are done; this script makes sure none
# of those is left behind: it runs the command in its own process group and ends whatever of
# that group remains when the command exits. The package's own service is never started.
# Exits with the command's exit status.
set -euo pipefail

die() {
    printf 'with-prometheus: %s\n' "$*" >&2
    exit 1
}

if [[ $# -eq 0 ]]; then
    die "usage: $0 COMMAND [ARGS...]"
fi

is_prometheus() {
    [[ -n $1 && -x $1 && ! -d $1 ]] && "$1" --version >/dev/null 2>&1
}

find_prometheus() {
    local candidate
    for candidate in "${PROMETHEUS_BIN:-}" "$(command -v prometheus 2>/dev/null || true)" \
        /usr/bin/prometheus; do
        if is_prometheus "$candidate"; then
            printf '%s\n' "$candidate"
            return 0
        fi
    done
    return 1
}

install_prometheus() {
    local -a sudo=()
    if [[ $(id -u) -ne 0 ]]; then
        command -v sudo >/dev/null 2>&1 || return 1
        sudo=(sudo)
    fi
    command -v apt-get >/dev/null 2>&1 || return 1
    echo "with-prometheus: prometheus not found; installing Debian package 'prometheus'..." >&2
    "${sudo[@]}" apt-get update -qq >&2 || return 1
    # policy-rc.d 101: the package's service is not started (the tests start their own server).
    local policy=/usr/sbin/policy-rc.d created=0
    if [[ ! -e $policy ]]; then
        printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null &&
            "${sudo[@]}" chmod +x "$policy" && created=1
    fi
    local status=0
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends prometheus >&2 || status=$?
    if [[ $created -eq 1 ]]; then
        "${sudo[@]}" rm -f "$policy"
    fi
    return "$status"
}

if ! binary=$(find_prometheus); then
    install_prometheus || true
    binary=$(find_prometheus) ||
        die "the prometheus binary was not found and could not be installed; install Debian's 'prometheus' package or set PROMETHEUS_BIN"
fi

export RECEIPTS_TEST_PROMETHEUS_BIN=$binary
export RECEIPTS_REQUIRE_PROMETHEUS=1

child_pid=""
caught_signal=""

# Invoked only via the traps below.
# shellcheck disable=SC2317
on_signal() {
    caught_signal=$1
    if [[ -n $child_pid ]]; then  # its own process group: a terminal's Ctrl-C does not reach it
        kill -s "$1" -- "-$child_pid" 2>/dev/null || true
    fi
}

# Whatever the command's process group left running (a server a killed test did not stop).
# shellcheck disable=SC2317
stop_leftovers() {
    [[ -n $child_pid ]] || return 0
    kill -TERM -- "-$child_pid" 2>/dev/null || return 0
    sleep 1
    kill -KILL -- "-$child_pid" 2>/dev/null || true
}

trap 'on_signal INT' INT
trap 'on_signal TERM' TERM
trap 'on_signal HUP' HUP

set -m # the command gets its own process group
(
    trap - INT QUIT TERM HUP
    exec "$@"
) <&0 &
child_pid=$!
set +m

status=0
while :; do
    if wait "$child_pid"; then
        status=0
    else
        status=$?
    fi
    kill -0 "$child_pid" 2>/dev/null || break
done
stop_leftovers
if [[ -n $caught_signal ]]; then
    trap - "$caught_signal"
    kill -s "$caught_signal" "$$"
fi
exit "$status"
