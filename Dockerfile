# One image for both compose services: the GraphQL API and the local SageMaker endpoint.

# GraphiQL's browser bundles, from the npm lock, so the image serves GraphiQL offline.
FROM node:20-slim AS graphiql
WORKDIR /graphiql
COPY app/graphiql/package.json app/graphiql/package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error

FROM python:3.11-slim
WORKDIR /srv
COPY requirements.lock .
RUN pip install --no-cache-dir --no-input -r requirements.lock
COPY app ./app
COPY --from=graphiql /graphiql/node_modules ./app/graphiql/node_modules
RUN mkdir -p /data && chown nobody /data
USER nobody
EXPOSE 8000 8001
CMD ["python", "-m", "app", "serve", "--host", "0.0.0.0", "--port", "8000"]
