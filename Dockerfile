# syntax=docker/dockerfile:1
# One image for every shipsync role; the command chooses the role (docs/deploy.md):
#   bin/with-jemalloc node dist/src/workers/main.js   worker (workflow + erp/dispatch/crm activity workers),
#                                          on jemalloc (docs/deploy.md, Worker memory)
#   node dist/src/gateway/main.js          gateway (the default command)
#   node dist/src/gateway/codec-main.js    codec server of the Temporal Web UI
#   node dist/sandbox/<erp|dispatch|crm>/main.js, node dist/sandbox/main.js   vendor sandboxes
#   node bin/shipsync.mjs <command>        the operator CLI
ARG NODE_VERSION=20.19

# Build: every dependency, the compiled dist/ with the prebuilt workflow bundle, then production deps only.
FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /app
# A compiler for native modules (better-sqlite3) on platforms without a prebuilt binary.
RUN apt-get update \
  && apt-get install -y --no-install-recommends python3 make g++ \
  && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY sandbox ./sandbox
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

# Runtime: production dependencies and dist/ only, owned by root and run as the unprivileged `node` user.
FROM node:${NODE_VERSION}-bookworm-slim AS runtime
ENV NODE_ENV=production \
    SHIPSYNC_GATEWAY_HOST=0.0.0.0 \
    SHIPSYNC_DATA_DIR=/var/lib/shipsync
WORKDIR /app
# jemalloc for the worker (bin/with-jemalloc): glibc's malloc keeps every thread's arena at its peak.
RUN apt-get update \
  && apt-get install -y --no-install-recommends libjemalloc2 \
  && rm -rf /var/lib/apt/lists/*
RUN mkdir -p /var/lib/shipsync && chown node:node /var/lib/shipsync
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY bin ./bin
# The ops console's static files, served by the gateway at /ops (no build step).
COPY console ./console
COPY deploy/healthcheck.mjs ./deploy/healthcheck.mjs
USER node
VOLUME ["/var/lib/shipsync"]
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "deploy/healthcheck.mjs"]
CMD ["node", "dist/src/gateway/main.js"]
