# syntax=docker/dockerfile:1
# Images of the API and the collector: `docker compose build` builds both targets.
# a release of Node 24 (Active LTS), pinned: the image is the same whenever it is built
ARG NODE_VERSION=24.19.0

# --- build: the TypeScript sources compiled to dist/
FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY common ./common
COPY collector ./collector
COPY api ./api
COPY cli ./cli
COPY clients/ts ./clients/ts
COPY dashboards/*.ts ./dashboards/
RUN npx tsc -p tsconfig.build.json

# --- runtime: production dependencies only, no compiler, not root
FROM node:${NODE_VERSION}-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY bin ./bin
COPY api/page ./api/page
USER node
ENTRYPOINT ["node", "/app/bin/wattscope.js"]

# --- the API and its live page
FROM runtime AS api
ENV WATTSCOPE_API_BIND=0.0.0.0 WATTSCOPE_API_PORT=8080
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s CMD ["node", "-e", "fetch('http://127.0.0.1:8080/healthz').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["serve"]

# --- the collector: reads the host's /proc and /sys mounted at /host. With the host's network
# (docker-compose.yml), /metrics stays on the host's loopback like every other service: a
# Prometheus on the host scrapes 127.0.0.1:9101; set WATTSCOPE_COLLECTOR_BIND to expose it.
FROM runtime AS collector
ENV WATTSCOPE_COLLECTOR_PORT=9101 \
    WATTSCOPE_PROCFS_ROOT=/host/proc WATTSCOPE_SYSFS_ROOT=/host/sys \
    WATTSCOPE_HOME=/var/lib/wattscope
USER root
RUN mkdir -p /var/lib/wattscope && chown node:node /var/lib/wattscope
USER node
EXPOSE 9101
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s CMD ["node", "-e", "fetch('http://127.0.0.1:9101/healthz').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["collect"]
