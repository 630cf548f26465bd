#!/usr/bin/env bash
# Fuzzes Velt answer parsing (src/envelope.c) with libFuzzer, AddressSanitizer
# and UndefinedBehaviorSanitizer, starting from fuzz/corpus.
#   scripts/fuzz.sh [seconds]     (default 60; the test command runs 60)
# A crash leaves its input in fuzz/crash-*; add it to fuzz/corpus and fix.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
seconds=${1:-60}
build=$(mktemp -d)
trap 'rm -rf "$build"' EXIT
clang-14 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	-I"$VELT_ROOT/src" $(pkg-config --cflags json-c) \
	"$VELT_ROOT/fuzz/fuzz_envelope.c" "$VELT_ROOT/src/envelope.c" \
	$(pkg-config --libs json-c) -o "$build/fuzz_envelope" || exit 1
# work on a copy so the checked-in corpus only grows on purpose
cp -r "$VELT_ROOT/fuzz/corpus" "$build/corpus"
cd "$VELT_ROOT/fuzz" || exit 1
"$build/fuzz_envelope" -max_total_time="$seconds" -max_len=65536 -timeout=10 \
	-print_final_stats=1 "$build/corpus" 2>&1 | tail -n 12
exit "${PIPESTATUS[0]}"
