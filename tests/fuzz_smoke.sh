#!/usr/bin/env bash
# Fuzz smoke test: builds the libFuzzer targets with the `fuzz` preset (clang, build/fuzz; only what
# the two targets exercise, a cold build of about 3 minutes on 2 cores) and runs each for
# SAVANT_FUZZ_SECONDS seconds (default 25) on a scratch corpus, so the corpus in the repository never
# grows. Seeds: the committed ones in tests/fuzz/corpus/<name>/, plus, when present, the small
# SavedModels and checkpoints of the fixtures ($SAVANT_FIXTURES or ../shared/fixtures) and of
# tests/testdata. Exits non-zero when a target crashes, leaks, times out on one input or runs out
# of memory; the reproducer is kept and its path printed.
#
# The default test command runs it in two steps: tests/run_all.sh builds the targets
# (SAVANT_FUZZ_BUILD_ONLY=1), then ctest runs fuzz_smoke.<target> (loader/CMakeLists.txt), which
# calls this script with SAVANT_FUZZ_NO_BUILD=1 for one target.
#
#   tests/fuzz_smoke.sh                              build, then 25 seconds per target
#   SAVANT_FUZZ_SECONDS=3600 tests/fuzz_smoke.sh     the longer run, one hour per target
#   SAVANT_FUZZ_TARGETS="saved_model_fuzz" ...       only some targets
#   SAVANT_FUZZ_BUILD_DIR=build/fuzz-sm ...          another build directory (same fuzz preset)
#   SAVANT_FUZZ_BUILD_ONLY=1 ...                     build the targets, run nothing
#   SAVANT_FUZZ_NO_BUILD=1 ...                       run the targets already built there
#   SAVANT_FUZZ_REQUIRED=1 ...                       fail (instead of skipping) without clang or
#                                                    without a built target
#
# Reproduce a failure with: build/fuzz/loader/<target> <crash, leak, timeout or oom file>
# Without clang, or (with SAVANT_FUZZ_NO_BUILD=1) without the built binary, it skips: exit 0, or 77
# (CTest's skip code) when only running; with SAVANT_FUZZ_REQUIRED=1 both are failures.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${SAVANT_FUZZ_SECONDS:-25}"
targets="${SAVANT_FUZZ_TARGETS:-saved_model_fuzz tensor_bundle_fuzz}"
build_dir="${SAVANT_FUZZ_BUILD_DIR:-build/fuzz}"
required="${SAVANT_FUZZ_REQUIRED:-0}"
no_build="${SAVANT_FUZZ_NO_BUILD:-0}"

# skip MESSAGE: exits as a skip, or as a failure when the run is required.
skip() {
  if [[ "$required" == "1" ]]; then
    echo "fuzz smoke: FAILED: $1 (SAVANT_FUZZ_REQUIRED=1)"
    exit 1
  fi
  echo "fuzz smoke: skipped: $1"
  if [[ "$no_build" == "1" ]]; then exit 77; fi
  exit 0
}

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

if [[ "$no_build" != "1" ]]; then
  if ! command -v clang++ >/dev/null 2>&1; then
    skip "clang++ not found (libFuzzer needs clang; deploy/install-deps.sh installs it)"
  fi
  echo "fuzz smoke: building ${present[*]} in ${build_dir}"
  start=$SECONDS
  cmake --preset fuzz -B "$build_dir" >/dev/null
  cmake --build "$build_dir" --target "${present[@]}" -j "$(nproc)"
  echo "fuzz smoke: build took $((SECONDS - start)) s"
fi
if [[ "${SAVANT_FUZZ_BUILD_ONLY:-0}" == "1" ]]; then
  exit 0
fi
for target in "${present[@]}"; do
  if [[ ! -x "${build_dir}/loader/${target}" ]]; then
    skip "${build_dir}/loader/${target} is not built (tests/fuzz_smoke.sh builds it)"
  fi
done

# Fixture seeds: inputs up to these sizes keep the per-input time of a short run low.
max_model_seed=$((64 * 1024))
max_bundle_seed=$((16 * 1024))
fixtures="${SAVANT_FIXTURES:-}"
if [[ -z "$fixtures" && -d ../shared/fixtures ]]; then fixtures=../shared/fixtures; fi

# add_seeds NAME CORPUS: copies the fixture and testdata models that fit into CORPUS, in the target's
# input format (see the comment at the top of loader/<NAME>_fuzz.cc).
add_seeds() {
  local name="$1" corpus="$2" roots=(tests/testdata) n=0 file dir seed size
  if [[ -n "$fixtures" && -d "$fixtures" ]]; then roots+=("$fixtures"); fi
  while IFS= read -r file; do
    dir="$(dirname "$file")"
    seed="${corpus}/seed_$(echo "${dir#./}" | tr '/.' '__')"
    case "$name" in
      saved_model)
        [[ "$(basename "$file")" == saved_model.pb* ]] || continue
        [[ $(stat -c %s "$file") -le $max_model_seed ]] || continue
        # First byte: odd = text format, even = binary.
        if [[ "$file" == *.pbtxt ]]; then printf '\x01'; else printf '\x00'; fi >"$seed"
        cat "$file" >>"$seed"
        ;;
      tensor_bundle)
        [[ "$(basename "$file")" == variables.index ]] || continue
        # The input holds one data shard: a single-shard checkpoint's index + data, else the index.
        local data="${dir}/variables.data-00000-of-00001"
        if [[ -f "$data" && $(($(stat -c %s "$file") + $(stat -c %s "$data"))) -le $max_bundle_seed ]]
        then
          cat "$file" "$data" >"$seed"
        elif [[ $(stat -c %s "$file") -le $max_bundle_seed ]]; then
          cp "$file" "${seed}_index_only"
        else
          continue
        fi
        ;;
    esac
    n=$((n + 1))
  done < <(find "${roots[@]}" -type f \( -name 'saved_model.pb' -o -name 'saved_model.pbtxt' \
             -o -name 'variables.index' \) | sort)
  echo "fuzz smoke: ${n} seeds from ${roots[*]}"
}

work="$(mktemp -d "${TMPDIR:-/tmp}/savant-fuzz.XXXXXX")"
failed=0
for target in "${present[@]}"; do
  name="${target%_fuzz}"
  corpus="${work}/${name}/corpus"
  artifacts="${work}/${name}/artifacts/"
  mkdir -p "$corpus" "$artifacts"
  if [[ -d "tests/fuzz/corpus/${name}" ]]; then
    find "tests/fuzz/corpus/${name}" -maxdepth 1 -type f ! -name '*.md' -exec cp {} "$corpus/" \;
  else
    echo "fuzz smoke: no seed corpus tests/fuzz/corpus/${name}"
  fi
  add_seeds "$name" "$corpus"
  echo "fuzz smoke: ${target} for ${seconds}s on $(ls "$corpus" | wc -l) seeds"
  log="${work}/${name}/fuzz.log"
  dict=()
  if [[ -f "tests/fuzz/${name}.dict" ]]; then dict=(-dict="tests/fuzz/${name}.dict"); fi
  set +e
  "${build_dir}/loader/${target}" -max_total_time="$seconds" -timeout=30 -rss_limit_mb=4096 \
    -print_final_stats=1 -artifact_prefix="$artifacts" "${dict[@]}" "$corpus" >"$log" 2>&1
  rc=$?
  set -e
  grep -E '^stat::number_of_executed_units|^stat::peak_rss_mb|^#[0-9]+[[:space:]]+(INITED|DONE)' \
    "$log" || true
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
