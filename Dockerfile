# shadowtap image: one CLI for every stage (capture, replay, diff, gate); the command is the argument.
#   docker build -t shadowtap .
#   docker run --rm shadowtap --help

# Build stage: dev dependencies and the TypeScript compiler never reach the runtime image.
FROM node:20-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npx tsc -p tsconfig.json

# Runtime stage: production dependencies, compiled code and the Avro schemas only.
FROM node:20-slim AS runtime
ENV NODE_ENV=production \
    SHADOWTAP_STORE=/data/store
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY shared/schemas ./shared/schemas
# The embedded log, spool and reports live under /data and /reports, owned by the runtime user.
RUN mkdir -p /data /reports && chown 1000:1000 /data /reports
VOLUME ["/data"]
# 8080: capture / sample apps; 9464: Prometheus metrics.
EXPOSE 8080 9464
# uid 1000 is the image's `node` user; numeric so Kubernetes runAsNonRoot can verify it.
USER 1000:1000
ENTRYPOINT ["node", "dist/cli/main.js"]
CMD ["--help"]
