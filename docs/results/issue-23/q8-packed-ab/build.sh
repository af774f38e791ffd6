#!/usr/bin/env bash
# build.sh SRC_CPP_DIR OUT: the A/B timer against one tree's kernels.
set -euo pipefail
g++ -O3 -std=c++17 -fno-math-errno -I"$1" "$(dirname "$0")/ab_time.cc" "$1"/core/kernels/*.cc "$1"/core/thread_pool.cc -lpthread -o "$2"
