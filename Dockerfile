# The pgcdc image: one image for every role, chosen by the command (`produce`, `consume --target
# NAME`, `run`), e.g. `docker run pgcdc produce -c /etc/pgcdc/pgcdc.yaml`. Two stages: the first
# installs every dependency and compiles the TypeScript (npm run build -> dist/); the final one
# holds the production dependencies and the compiled JavaScript only (no TypeScript, no tsx, no
# development tooling) and runs as the unprivileged `node` user. Node.js: the LTS line the tests
# run on (NODE_IMAGE, one argument to change). Used by deploy/docker-compose.yml;
# test/deploy/container.test.ts checks the stages, that every COPY source exists and that the
# CLI's imports stay inside what is copied.
ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
# The product only: the contract, the stages, the pipeline's shared parts, the operator verbs and
# the CLI. Development tooling (dev/: local stack, demo, bench) stays out.
COPY tsconfig.json tsconfig.build.json ./
COPY schemas ./schemas
COPY producers ./producers
COPY consumers ./consumers
COPY pipeline ./pipeline
COPY ops ./ops
COPY cli ./cli
RUN npm run build

FROM ${NODE_IMAGE}
ENV NODE_ENV=production \
    NPM_CONFIG_UPDATE_NOTIFIER=false
WORKDIR /app
# Dependencies first: this layer is rebuilt only when the lockfile changes.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /src/dist ./dist

USER node
# produce/run serve /metrics on metrics.port (9464), consume on metrics.consumePort (9465).
EXPOSE 9464 9465
# Liveness only; readiness (/readyz) is the orchestrator's business (see the compose file). Either
# role's port answering is enough (a process serves one of them).
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "const e = process.env; Promise.any([e.PGCDC_METRICS__PORT || 9464, e.PGCDC_METRICS__CONSUME_PORT || 9465].map((p) => fetch('http://127.0.0.1:' + p + '/healthz').then((r) => { if (!r.ok) throw new Error(String(r.status)); }))).then(() => process.exit(0), () => process.exit(1))"]

ENTRYPOINT ["node", "dist/cli/main.js"]
CMD ["--help"]
