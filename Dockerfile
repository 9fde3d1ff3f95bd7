# syntax=docker/dockerfile:1
# One image for every Node process of stayline: the services, the `db-init` job
# and the gateway's upstream sync. docker-compose.yml picks the entry point with
# `command: node dist/...`, the same compiled code `npm run build` produces.
# See docs/docker.md.
ARG NODE_IMAGE=node:24-bookworm-slim

# 1. build: every dependency, then TypeScript to plain JavaScript under dist/
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.base.json ./
COPY scripts/build.cjs ./scripts/
COPY apps ./apps
COPY libs ./libs
COPY infra ./infra
RUN npm run build

# 2. the production dependencies only (no install scripts: nothing at run time needs one)
FROM ${NODE_IMAGE} AS prod-deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

# 3. what every Node container runs: dist/ and production node_modules, owned by
# root and read-only to the unprivileged `node` user the processes run as
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json ./
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /src/dist ./dist
USER node

# 4. the gateway: the same image plus Debian's nginx, driven by the upstream sync
FROM runtime AS gateway
USER root
RUN apt-get update \
  && apt-get install -y --no-install-recommends nginx \
  && rm -rf /var/lib/apt/lists/*
COPY infra/docker/gateway-entry.cjs ./infra/docker/
USER node
EXPOSE 8080

# 5. the default target (`docker build .`): the services and the db-init job
FROM runtime AS app
CMD ["node", "-e", "console.error('choose an entry point, e.g. node dist/apps/payment/src/main.js (see docker-compose.yml)'); process.exit(2)"]
