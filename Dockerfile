# The pgcdc image: one image for every role, chosen by the command (`produce`, `consume --target
# NAME`, `run`), e.g. `docker run pgcdc produce -c /etc/pgcdc/pgcdc.yaml`. The TypeScript sources
# run through tsx (a runtime dependency), so there is no build step and no dev dependency.
# Used by deploy/docker-compose.yml; test/deploy/container.test.ts checks that every COPY source
# exists and that the CLI's imports stay inside what is copied.
FROM node:20-bookworm-slim

ENV NODE_ENV=production \
    NPM_CONFIG_UPDATE_NOTIFIER=false
WORKDIR /app

# Dependencies first: this layer is rebuilt only when the lockfile changes.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev && npm cache clean --force

# The product only: the contract, the stages, the pipeline's shared parts, the operator verbs and
# the CLI. Development tooling (dev/: local stack, demo, bench) stays out of the image.
COPY tsconfig.json ./
COPY schemas ./schemas
COPY producers ./producers
COPY consumers ./consumers
COPY pipeline ./pipeline
COPY ops ./ops
COPY cli ./cli

# Unprivileged at run time; tsx caches its transforms under the OS temp dir, which node can write.
USER node
EXPOSE 9464
# Liveness only; readiness (/readyz) is the orchestrator's business (see the compose file).
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PGCDC_METRICS__PORT || 9464) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

ENTRYPOINT ["node", "cli/bin.js"]
CMD ["--help"]
