# syntax=docker/dockerfile:1
# tinkr-server: compiled TypeScript on the official Node 24 image, production dependencies only,
# running as the unprivileged `node` user. Nothing is written at run time (logs go to stdout), so
# the container runs with a read-only root filesystem. test/container/image-steps.test.ts replays
# every instruction below outside Docker (clean `npm ci --omit=dev`, the build, `node dist/bin.js`,
# the HEALTHCHECKs verbatim) and fails on one it does not know, so this file cannot rot.
#
# Two images: the server (the last stage, what `docker build .` makes) and, with
# `--target simulator`, the Datadog simulator that docker-compose.yml runs beside it. The server's
# image holds none of the simulator.
ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# The image brings Node 24 itself; the `node` devDependency's download is not needed here. The
# build needs no workspace package (the simulator is not part of the server).
RUN npm ci --ignore-scripts --workspaces=false
COPY tsconfig.json ./
COPY src ./src
# `npm run build` first runs this check (prebuild); it passes on the image's Node 24.
COPY scripts/check-node.mjs ./scripts/
RUN npm run build

# The Datadog simulator (packages/simulator): Node built-ins only, so no install; Node 24 runs its
# TypeScript sources as they are.
FROM ${NODE_IMAGE} AS simulator
ENV SIM_HOST=0.0.0.0 SIM_PORT=8126
WORKDIR /app
COPY packages/simulator/package.json ./
COPY packages/simulator/src ./src
USER node
EXPOSE 8126
HEALTHCHECK --interval=5s --timeout=3s --start-period=10s --retries=5 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+process.env.SIM_PORT+'/_sim/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node", "src/main.ts"]

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
# Memory bounded by what is configured (docs/operations.md): V8's young generation sized as on an
# ordinary host whatever this one's memory, and large buffers returned to the system when freed.
ENV NODE_OPTIONS=--max-semi-space-size=16 MALLOC_MMAP_THRESHOLD_=131072
WORKDIR /app
COPY package.json package-lock.json ./
# --workspaces=false: workspace packages (the simulator) are never installed, even where their
# folders exist.
RUN npm ci --omit=dev --ignore-scripts --workspaces=false && npm cache clean --force
COPY --from=build /app/dist ./dist
USER node
# 8000: the API. 9464: Prometheus self-metrics (unauthenticated: publish it on a private network only).
EXPOSE 8000 9464
# Node's own fetch, no curl in the image. /healthz is never shed under load, so a busy server
# is not restarted; it answers as long as the process serves HTTP at all.
HEALTHCHECK --interval=30s --timeout=3s --start-period=15s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# SIGTERM (docker stop) drains in-flight requests for up to [server] shutdown_timeout_ms (10 s),
# then exits 0; give the container a stop timeout above that (docker-compose.yml: 15 s).
ENTRYPOINT ["node", "dist/bin.js"]
