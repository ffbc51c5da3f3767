# Sourced by the other scripts: where the pinned tools live, and how tests reach Chromium.
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PATH="$HOME/.cargo/bin:$root/.tools/node_modules/.bin:$PATH"
export CHROMEDRIVER=/usr/bin/chromedriver
export WASM_BINDGEN_TEST_WEBDRIVER_JSON="$root/tests/webdriver.json"

# venv_install DIR PACKAGE VERSION MODULE: a Python virtual environment in DIR with PACKAGE at
# exactly VERSION (checked through MODULE.__version__), made or fixed if it is not so. Installs
# Debian's python3-venv first if Python cannot make one (needs root then).
venv_install() {
  local venv=$1 package=$2 version=$3 module=$4
  if ! "$venv/bin/python" -c "import $module, sys; sys.exit($module.__version__ != '$version')" 2>/dev/null; then
    printf '[install] %s %s into %s\n' "$package" "$version" "$venv" >&2
    if ! python3 -c 'import ensurepip' 2>/dev/null; then
      export DEBIAN_FRONTEND=noninteractive
      apt-cache show python3-venv >/dev/null 2>&1 || apt-get update -qq
      apt-get install -y -qq python3-venv >/dev/null
    fi
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check "$package==$version"
  fi
}
