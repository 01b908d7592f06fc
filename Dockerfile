# sshgate: the MCP server, hardened. Build: docker build -t sshgate .
# Runs as a non-root numeric user on a read-only root filesystem; it writes only to its state dir
# (a tmpfs, see docker-compose.yml). Config, policies, keys and secrets are mounted read-only.

ARG NODE_IMAGE=node:24.21.0-bookworm-slim

FROM ${NODE_IMAGE} AS build
# A compiler for ssh2's native crypto (scripts/ssh2-crypto.mjs), in the build stage only.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json .npmrc ./
RUN npm ci
COPY scripts/ssh2-crypto.mjs ./scripts/
RUN npm run build:ssh2-crypto -- --required \
 && rm -rf node_modules/ssh2/lib/protocol/crypto/build/Release/obj.target node_modules/ssh2/lib/protocol/crypto/build/Release/.deps
COPY tsconfig.json tsconfig.build.json rolldown.config.mjs rolldown.snapshot.mjs ./
COPY scripts/sdk-wire-checks.mjs ./scripts/
COPY src ./src
RUN npm run build && npm run build:snapshot && npm prune --omit=dev

FROM ${NODE_IMAGE}
ENV NODE_ENV=production \
    SSHGATE_CONFIG_DIR=/etc/sshgate/config \
    SSHGATE_POLICY=/etc/sshgate/policies \
    SSHGATE_KEYS_DIR=/run/secrets/keys \
    SSHGATE_SECRETS_DIR=/run/secrets \
    SSHGATE_STATE_DIR=/var/lib/sshgate
WORKDIR /app
COPY --from=build /src/package.json ./package.json
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
# The startup snapshot every start runs from (src/snapshot.ts; docs/architecture.md, "Start"):
# built here, at /app, where its paths and node_modules resolve at run time as at build time, by
# the node and with the V8 flags of the ENTRYPOINT; as root, so that the user it runs as cannot
# change the code node deserializes from it. No compile cache: V8 refuses code cached outside the
# snapshot in a start from it, and one the user could write would be code it runs.
RUN node --liftoff-only --no-wasm-tier-up --no-wasm-dynamic-tiering --snapshot-blob /app/sshgate.blob --build-snapshot /app/dist/snapshot.cjs
USER 10001:10001
# V8 compiles WebAssembly with its baseline compiler only (src/memory.ts): given here, at start,
# nothing sets them at run time. Node refuses these flags in NODE_OPTIONS. The arguments after `--`
# are sshgate's, its own options included (node runs no script from a snapshot).
HEALTHCHECK --interval=60s --timeout=10s --retries=3 CMD ["node", "--liftoff-only", "--no-wasm-tier-up", "--no-wasm-dynamic-tiering", "--snapshot-blob", "/app/sshgate.blob", "--", "check"]
ENTRYPOINT ["node", "--liftoff-only", "--no-wasm-tier-up", "--no-wasm-dynamic-tiering", "--snapshot-blob", "/app/sshgate.blob", "--"]
CMD ["serve"]
