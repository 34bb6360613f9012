# One image for both compose services: the GraphQL API and the local SageMaker endpoint.
FROM python:3.11-slim
WORKDIR /srv
COPY requirements.lock .
RUN pip install --no-cache-dir --no-input -r requirements.lock
COPY app ./app
RUN mkdir -p /data && chown nobody /data
USER nobody
EXPOSE 8000 8001
CMD ["python", "-m", "app", "serve", "--host", "0.0.0.0", "--port", "8000"]
