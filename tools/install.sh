#!/usr/bin/env bash
# Installs mmsola and what requirements.txt names into a virtual environment, each at the exact
# version of requirements/pinned.txt (a constraints file: requirements/*.txt say what is
# installed, pinned.txt which version).
#
#   MMSOLA_VENV   where the environment lives        (default: .venv in the repo)
#   MMSOLA_CACHE  where built wheels are kept         (default: ~/.cache/mmsola)
#   PYTHON        the interpreter that makes the venv (default: python3)
#
# Idempotent: a second run with the same pinned file returns at once. mmcv 2.1.0 ships only as
# source; it is compiled once against the installed torch and the wheel is cached under a key
# of mmcv, torch and Python versions, so a reinstall takes seconds and a wheel built against
# another torch is never reused.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
venv=${MMSOLA_VENV:-$repo/.venv}
cache=${MMSOLA_CACHE:-$HOME/.cache/mmsola}
pinned=$repo/requirements/pinned.txt
stamp=$venv/.mmsola-installed

log() { printf '[install] %s\n' "$*"; }
pin() { grep -E "^$1==" "$pinned" | head -n1; }

# what this script installs: requirements.txt and the files it names, build.txt, the pins
want=$(cat "$pinned" "$repo"/requirements{.txt,/{runtime,mminstall,optional,deploy,tests,build}.txt} \
  "$0" "$repo/setup.py" | sha256sum | cut -d' ' -f1)
if [[ -f $stamp && $(cat "$stamp") == "$want" ]]; then
  log "environment $venv is up to date"
  exit 0
fi

if [[ ! -x $venv/bin/python ]]; then
  log "creating virtual environment $venv"
  "${PYTHON:-python3}" -m venv "$venv"
fi
py=$venv/bin/python
pip() { "$py" -m pip --disable-pip-version-check "$@"; }
# every install is constrained by the pinned file: a package's own requirement (torch asks
# for setuptools>=77) cannot move a pinned build tool past what mmcv's build needs
pip_install() { pip install -q -c "$pinned" "$@"; }

log "build tools"
pip_install -r "$repo/requirements/build.txt"

log "$(pin torch) $(pin torchvision)"
pip_install "$(pin torch)" "$(pin torchvision)" "$(pin numpy)"

# --- mmcv: compiled against this torch, cached by (mmcv, torch, python) ---------------------
mmcv_pin=$(pin mmcv)
mmcv_ver=${mmcv_pin#mmcv==}
key=$("$py" -c 'import sys, torch; print(f"torch{torch.__version__}-cp{sys.version_info.major}{sys.version_info.minor}")')
wheel_dir=$cache/wheels/mmcv-$mmcv_ver/$key
mmcv_wheel=$(ls "$wheel_dir"/mmcv-"$mmcv_ver"-*.whl 2>/dev/null | head -n1 || true)
if [[ -z $mmcv_wheel ]]; then
  log "compiling mmcv $mmcv_ver with ops against $key (about 9 minutes on 2 cores)"
  "$py" -c 'import pkg_resources' 2>/dev/null || {
    echo "[install] mmcv's setup.py needs pkg_resources, which $("$py" -m pip show setuptools | grep ^Version) lacks; pin setuptools<81 in $pinned" >&2
    exit 1
  }
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  pip download -q --no-deps --no-build-isolation --no-binary :all: -d "$work" "$mmcv_pin"
  tar -xzf "$work"/mmcv-"$mmcv_ver".tar.gz -C "$work"
  src=$work/mmcv-$mmcv_ver
  # torch >= 2.14 headers need C++20; mmcv 2.1.0 asks for C++17.
  sed -i 's/c++17/c++20/g; s/std=c++14/std=c++20/g' "$src/setup.py"
  MMCV_WITH_OPS=1 MAX_JOBS=${MAX_JOBS:-2} CFLAGS=-g0 CXXFLAGS=-g0 \
    pip wheel -q --no-build-isolation --no-deps -w "$work/dist" "$src"
  mkdir -p "$wheel_dir"
  built=$(ls "$work"/dist/mmcv-*.whl)
  cp "$built" "$wheel_dir/.partial.whl"                  # atomic: never a half-written wheel
  mv "$wheel_dir/.partial.whl" "$wheel_dir/$(basename "$built")"
  mmcv_wheel=$wheel_dir/$(basename "$built")
else
  log "using cached $mmcv_wheel"
fi

log "requirements.txt: mm toolkits, optional, deploy, tests"
pip_install "$mmcv_wheel" -r "$repo/requirements.txt"

log "mmsola (editable)"
pip_install --no-build-isolation --no-deps -e "$repo"

"$py" - <<'PY'
import mmcv, mmcv.ops, mmdet, mmseg, mmpretrain, mmengine, torch, triton, mmsola
print(f'[install] ok: torch {torch.__version__}, triton {triton.__version__}, mmengine '
      f'{mmengine.__version__}, mmcv {mmcv.__version__}, mmdet {mmdet.__version__}, '
      f'mmseg {mmseg.__version__}, mmpretrain {mmpretrain.__version__}')
PY
echo "$want" > "$stamp"
