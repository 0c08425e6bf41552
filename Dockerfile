# Two images from one Dockerfile. TypeScript runs through tsx, as in `npm run api` etc.
#
#   app      Paysaga's api and worker (the production image); docker-compose.yml picks the
#            process with `command`. It does not contain the sandbox PSP.
#   sandbox  the sandbox PSP (sandbox/), a stand-in gateway for development and tests.
#
#   docker build --target app -t paysaga .            (also the default: the last stage)
#   docker build --target sandbox -t paysaga-sandbox .
#   docker run --rm -e DATABASE_URL=... -e TEMPORAL_ADDRESS=... -p 3000:3000 paysaga
FROM node:24-slim AS base

ENV NODE_ENV=production \
    NPM_CONFIG_UPDATE_NOTIFIER=false \
    NPM_CONFIG_FUND=false \
    NPM_CONFIG_AUDIT=false

WORKDIR /app

# Dependencies first so that a source change does not reinstall them. tsx is a runtime
# dependency, so dev dependencies (vitest, eslint, drizzle-kit...) are left out.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev && npm cache clean --force
COPY tsconfig.json ./

# ---- sandbox: the stand-in PSP, never shipped in the app image -------------------------------
FROM base AS sandbox
# The sandbox's imports from Paysaga: the currency table, the Node version check and the
# process policy (pure, or pino only).
COPY src/domain/money.ts ./src/domain/money.ts
COPY src/require-node.mjs src/process-policy.ts ./src/
COPY sandbox ./sandbox
USER node
# 4010: SANDBOX_PORT. Listen on every interface inside the container (the default is 127.0.0.1).
EXPOSE 4010
ENV SANDBOX_HOST=0.0.0.0
CMD ["node", "--import", "tsx", "sandbox/main.ts"]

# ---- app: api and worker (last, so a plain `docker build .` builds it) -----------------------
FROM base AS app
# The migrations are applied by the api and the worker at start (under an advisory lock).
COPY migrations ./migrations
COPY src ./src
USER node
# 3000: API (PORT). Listen on every interface inside the container (the default is 127.0.0.1).
EXPOSE 3000
ENV HOST=0.0.0.0
# Default process: the API. The worker is
# `node --max-semi-space-size=4 --heap-growing-percent=35 --import tsx --import ./src/worker/workflow-threads.ts src/worker/main.ts`
# with MALLOC_ARENA_MAX=2 (docker-compose.yml sets both).
CMD ["node", "--heap-growing-percent=35", "--import", "tsx", "src/api/main.ts"]
