# Sourced by setup-venv.sh and lock.sh: sets UV to a uv executable, or to "" when there is none and it
# cannot be had. Order: $UV if set, `uv` on PATH, then a bootstrap venv (.uv/, made once with pip from
# PyPI). TOL10M_NO_UV=1 means pip only.
UV="${UV:-}"
if [ "${TOL10M_NO_UV:-0}" = 1 ]; then
  UV=""
elif [ -z "$UV" ]; then
  if command -v uv >/dev/null 2>&1; then
    UV="$(command -v uv)"
  elif [ -x .uv/bin/uv ]; then
    UV="$PWD/.uv/bin/uv"
  elif "${PYTHON:-python3}" -m venv .uv >/dev/null 2>&1 && .uv/bin/python -m pip install --quiet uv >/dev/null 2>&1; then
    UV="$PWD/.uv/bin/uv"
  else
    rm -rf .uv
    UV=""
  fi
fi
