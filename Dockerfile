# syntax=docker/dockerfile:1
# Build stage: full dependencies, compile TypeScript, then drop dev dependencies.
# Node 22 LTS (Node 20 reached end of life on 2026-04-30; the code still runs on 20.19+, see package.json engines).
FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY migrations ./migrations
COPY emulator ./emulator
RUN npm run build && npm prune --omit=dev --ignore-scripts

# Runtime stage: compiled code and production dependencies only, as the unprivileged node user.
FROM node:22-bookworm-slim
ENV NODE_ENV=production \
    ENVIRONMENT=production \
    HOST=0.0.0.0 \
    PORT=8000 \
    DATA_DIR=/app/data
WORKDIR /app
COPY --from=build --chown=node:node /app/package.json ./package.json
COPY --from=build --chown=node:node /app/node_modules ./node_modules
COPY --from=build --chown=node:node /app/dist ./dist
RUN mkdir -p /app/data && chown node:node /app/data
USER node
EXPOSE 8000
# Liveness only: readiness (database) is /health/ready, for the orchestrator.
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8000)+'/health/live').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# SIGTERM reaches node directly (exec form), so in-flight streams drain before exit.
STOPSIGNAL SIGTERM
# The same image runs the admin CLI (node dist/src/cli/admin.js) and the model-server emulator
# (node dist/emulator/emulator.main.js, compose's emulator profile).
CMD ["node", "dist/src/main.js"]
