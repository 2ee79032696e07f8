# syntax=docker/dockerfile:1
# tinkr-server: compiled TypeScript on the official Node 24 image, production dependencies only,
# running as the unprivileged `node` user. Nothing is written at run time, so the container can
# run with a read-only root filesystem. test/container/image-steps.test.ts repeats these steps
# (clean `npm ci --omit=dev`, `node dist/main.js`, the health check) so this file cannot rot.
ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# The image brings Node 24 itself; the `node` devDependency's download is not needed here.
RUN npm ci --ignore-scripts
COPY tsconfig.json ./
COPY src ./src
RUN npm run build

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force
COPY --from=build /app/dist ./dist
USER node
EXPOSE 8000 9464
# Node's own fetch, no curl in the image.
HEALTHCHECK --interval=30s --timeout=3s --start-period=15s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node", "dist/main.js"]
