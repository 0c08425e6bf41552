# Two images from one Dockerfile, both running the build (`npm run build`, dist/) on plain node:
# no TypeScript, no tsx, no tests, no dev tools.
#
#   app      Paysaga's api, worker and command consumer (the production image);
#            docker-compose.yml picks the process with `command`. It does not contain the sandbox PSP.
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

# ---- build: TypeScript to dist/, with the dev dependencies (never shipped) -------------------
FROM base AS build
COPY package.json package-lock.json ./
# No install scripts: the build needs only TypeScript and the type packages.
RUN npm ci --include=dev --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY sandbox ./sandbox
RUN npm run build

# ---- the runtime dependencies alone ----------------------------------------------------------
FROM base AS dependencies
COPY package.json package-lock.json ./
RUN npm ci --omit=dev && npm cache clean --force

# ---- sandbox: the stand-in PSP, never shipped in the app image -------------------------------
FROM base AS sandbox
# package.json makes dist/'s .js files ES modules.
COPY package.json ./
COPY --from=dependencies /app/node_modules ./node_modules
# The sandbox's imports from Paysaga: the currency table, the Node version check and the
# process policy (pure, or pino only).
COPY --from=build /app/dist/src/domain/money.js /app/dist/src/domain/iso4217.js ./dist/src/domain/
COPY --from=build /app/dist/src/require-node.mjs /app/dist/src/process-policy.js ./dist/src/
COPY --from=build /app/dist/sandbox ./dist/sandbox
USER node
# 4010: SANDBOX_PORT. Listen on every interface inside the container (the default is 127.0.0.1).
EXPOSE 4010
ENV SANDBOX_HOST=0.0.0.0
CMD ["node", "dist/sandbox/main.js"]

# ---- app: api, worker and consumer (last, so a plain `docker build .` builds it) -------------
FROM base AS app
COPY package.json ./
COPY --from=dependencies /app/node_modules ./node_modules
# The migrations are applied by the api and the worker at start (under an advisory lock).
COPY migrations ./migrations
# The shipped integration profiles (PROFILES=transit reads profiles/transit.yaml).
COPY profiles ./profiles
COPY --from=build /app/dist/src ./dist/src
USER node
# 3000: API (PORT). Listen on every interface inside the container (the default is 127.0.0.1).
EXPOSE 3000
ENV HOST=0.0.0.0
# Default process: the API. The worker is
# `node --max-semi-space-size=4 --heap-growing-percent=35 --import ./dist/src/worker/workflow-threads.js dist/src/worker/main.js`
# with MALLOC_ARENA_MAX=2, the consumer `node dist/src/commands/main.js` (docker-compose.yml).
CMD ["node", "--heap-growing-percent=35", "dist/src/api/main.js"]
