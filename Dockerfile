# One image for the three Paysaga processes (api, worker, sandbox gateway); docker-compose.yml
# picks the process with `command`. TypeScript runs through tsx, as in `npm run api` etc.
#
#   docker build -t paysaga .
#   docker run --rm -e DATABASE_URL=... -e TEMPORAL_ADDRESS=... -p 3000:3000 paysaga
FROM node:24-slim

ENV NODE_ENV=production \
    NPM_CONFIG_UPDATE_NOTIFIER=false \
    NPM_CONFIG_FUND=false \
    NPM_CONFIG_AUDIT=false

WORKDIR /app

# Dependencies first so that a source change does not reinstall them. tsx is a runtime
# dependency, so dev dependencies (vitest, eslint, drizzle-kit...) are left out.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev && npm cache clean --force

# The migrations are applied by the api and the worker at start (under an advisory lock).
COPY tsconfig.json ./
COPY migrations ./migrations
COPY src ./src

USER node

# 3000: API (PORT), 4010: sandbox gateway (SANDBOX_PORT).
EXPOSE 3000 4010

# Listen on every interface inside the container (the defaults are 127.0.0.1).
ENV HOST=0.0.0.0 \
    SANDBOX_HOST=0.0.0.0

# Default process: the API. The worker is `node --import tsx src/worker/main.ts`, the sandbox
# gateway `node --import tsx src/gateway/sandbox/main.ts`.
CMD ["node", "--import", "tsx", "src/api/main.ts"]
