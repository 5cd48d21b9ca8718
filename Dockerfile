# One image for every part: the command picks the program (gateway, worker <stages>, mocks, reconcile).
FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY apps ./apps
COPY queues ./queues
COPY shared ./shared
COPY mocks ./mocks
USER node
CMD ["npx", "tsx", "apps/gateway/main.ts"]
