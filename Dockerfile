# One image for every part: the command picks the program (gateway, worker <stages>, mocks, reconcile).
# Two stages: the programs are compiled with the development dependencies (esbuild), and the image
# runs them with plain node beside the production dependencies only — no TypeScript, no tsx.

FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY apps ./apps
COPY queues ./queues
COPY shared ./shared
COPY mocks ./mocks
COPY infra/build.ts infra/programs.ts ./infra/
RUN npm run build

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
# Nothing is built here: npm scripts run the compiled programs as they are (no `pre` build), and no
# package runs an install script.
ENV npm_config_ignore_scripts=true
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
USER node
CMD ["node", "dist/apps/gateway/main.js"]
