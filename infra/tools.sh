# shellcheck shell=bash
# Sourced by scripts/lint-infra, scripts/package, scripts/release and scripts/lint-workflows:
# installs the pinned tools of infra/tools-requirements.txt (cfn-lint, checkov, cargo-lambda,
# cargo-zigbuild, ziglang, actionlint, shellcheck), their dependencies held to
# infra/tools-constraints.txt, into $TOOLS_DIR/venv (default .tools/, gitignored), once per version
# of those two files.
#
#   tools_install      idempotent; reinstalls when the requirements or constraints change
#   TOOLS_BIN          the venv's bin directory (put it first on PATH to use the tools)

ROOT=${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
TOOLS_DIR=${TOOLS_DIR:-$ROOT/.tools}
TOOLS_BIN=$TOOLS_DIR/venv/bin
TOOLS_REQUIREMENTS=$ROOT/infra/tools-requirements.txt
TOOLS_CONSTRAINTS=$ROOT/infra/tools-constraints.txt

tools_install() {
  local stamp
  stamp="$TOOLS_DIR/installed-$(cat "$TOOLS_REQUIREMENTS" "$TOOLS_CONSTRAINTS" | sha256sum | cut -c1-16)"
  [ -f "$stamp" ] && [ -x "$TOOLS_BIN/cfn-lint" ] && [ -x "$TOOLS_BIN/checkov" ] && return 0
  local py=${TOOLS_PYTHON:-python3}
  "$py" -c 'import sys; assert sys.version_info >= (3, 9)' 2>/dev/null || {
    echo "tools: $py is missing or older than 3.9; set TOOLS_PYTHON=/path/to/python3" >&2
    return 1
  }
  echo "tools: installing $(grep -cv '^\s*\(#\|$\)' "$TOOLS_REQUIREMENTS") pinned packages into $TOOLS_DIR/venv (once)" >&2
  rm -rf "$TOOLS_DIR/venv" "$TOOLS_DIR"/installed-*
  mkdir -p "$TOOLS_DIR"
  "$py" -m venv "$TOOLS_DIR/venv"
  "$TOOLS_BIN/pip" install -q --disable-pip-version-check -r "$TOOLS_REQUIREMENTS" -c "$TOOLS_CONSTRAINTS"
  touch "$stamp"
}
