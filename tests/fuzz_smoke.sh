#!/usr/bin/env bash
# Fuzz smoke test: builds the libFuzzer targets with the `fuzz` preset (clang, build/fuzz) and runs
# each for SAVANT_FUZZ_SECONDS seconds (default 20) on a scratch copy of its committed seed corpus
# in tests/fuzz/corpus/<name>/, so the corpus in the repository never grows. Exits non-zero when a
# target crashes, leaks, times out on one input or runs out of memory; the reproducer is kept and
# its path printed. Called from tests/run_all.sh.
#
#   tests/fuzz_smoke.sh                              20 seconds per target
#   SAVANT_FUZZ_SECONDS=3600 tests/fuzz_smoke.sh     the longer run, one hour per target
#   SAVANT_FUZZ_TARGETS="saved_model_fuzz" ...       only some targets
#   SAVANT_FUZZ_BUILD_DIR=build/fuzz-sm ...          another build directory (same fuzz preset)
#   SAVANT_FUZZ_NO_BUILD=1 ...                       run the targets already built there
#
# Reproduce a failure with: build/fuzz/loader/<target> <crash, leak, timeout or oom file>
# Targets whose source (loader/<target>.cc) does not exist yet are skipped with a message; so is the
# whole run when clang is not installed.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${SAVANT_FUZZ_SECONDS:-20}"
targets="${SAVANT_FUZZ_TARGETS:-saved_model_fuzz tensor_bundle_fuzz}"
build_dir="${SAVANT_FUZZ_BUILD_DIR:-build/fuzz}"

if ! command -v clang++ >/dev/null 2>&1; then
  echo "fuzz smoke: clang++ not found; skipping (libFuzzer needs clang)"
  exit 0
fi

present=()
for target in $targets; do
  if [[ -f "loader/${target}.cc" ]]; then
    present+=("$target")
  else
    echo "fuzz smoke: loader/${target}.cc does not exist; skipping ${target}"
  fi
done
if [[ ${#present[@]} -eq 0 ]]; then
  echo "fuzz smoke: no fuzz targets to run"
  exit 0
fi

if [[ "${SAVANT_FUZZ_NO_BUILD:-0}" != "1" ]]; then
  echo "fuzz smoke: building ${present[*]} in ${build_dir}"
  cmake --preset fuzz -B "$build_dir" >/dev/null
  cmake --build "$build_dir" --target "${present[@]}" -j "$(nproc)"
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/savant-fuzz.XXXXXX")"
failed=0
for target in "${present[@]}"; do
  name="${target%_fuzz}"
  corpus="${work}/${name}/corpus"
  artifacts="${work}/${name}/artifacts/"
  mkdir -p "$corpus" "$artifacts"
  if [[ -d "tests/fuzz/corpus/${name}" ]]; then
    cp -R "tests/fuzz/corpus/${name}/." "$corpus/"
  else
    echo "fuzz smoke: no seed corpus tests/fuzz/corpus/${name}; starting from nothing"
  fi
  echo "fuzz smoke: ${target} for ${seconds}s"
  log="${work}/${name}/fuzz.log"
  set +e
  "${build_dir}/loader/${target}" -max_total_time="$seconds" -timeout=30 -rss_limit_mb=4096 \
    -print_final_stats=1 -artifact_prefix="$artifacts" "$corpus" >"$log" 2>&1
  rc=$?
  set -e
  grep -E '^stat::number_of_executed_units|^stat::peak_rss_mb|^#[0-9]+[[:space:]]+DONE' "$log" || true
  if [[ $rc -ne 0 ]]; then
    failed=1
    echo "fuzz smoke: ${target} FAILED (exit ${rc}); last lines of ${log}:"
    tail -n 60 "$log"
    echo "fuzz smoke: reproducers kept in ${artifacts}:"
    ls -l "$artifacts"
  else
    echo "fuzz smoke: ${target} ok"
  fi
done

if [[ $failed -ne 0 ]]; then
  echo "fuzz smoke: failures; scratch directory kept: ${work}"
  exit 1
fi
rm -rf "$work"
