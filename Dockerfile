# Concord production image: web (gunicorn), Celery worker and beat all run from it.
# See docker-compose.yml for how the services use it.
FROM python:3.11-slim

# The code runs from /app, ahead of the copy `pip install .` puts in site-packages:
# the settings find templates/ and static files relative to the source tree.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONPATH=/app \
    DJANGO_SETTINGS_MODULE=coordination.settings.production

WORKDIR /app

RUN useradd --system --create-home --home-dir /home/concord --uid 10001 concord \
    && install -d -o concord -g concord /var/lib/celery

# Only what the application needs (no .venv, database file or .git from a checkout).
COPY pyproject.toml README.md manage.py ./
COPY coordination ./coordination
COPY agencies ./agencies
COPY taskforces ./taskforces
COPY templates ./templates

RUN pip install .

# Static files are collected into the image; whitenoise serves them. The settings need
# their required variables to load, so give throwaway build-time values that never
# reach the running containers (docker-compose.yml sets the real ones).
RUN DJANGO_SECRET_KEY=build-time-only-not-a-secret \
    DJANGO_ALLOWED_HOSTS=localhost \
    DATABASE_URL=sqlite:////tmp/build.sqlite3 \
    REDIS_URL=redis://localhost:6379/0 \
    EMAIL_URL=consolemail:// \
    DEFAULT_FROM_EMAIL=build@localhost \
    python manage.py collectstatic --noinput \
    && rm -f /tmp/build.sqlite3

USER concord

EXPOSE 8000

CMD ["gunicorn", "coordination.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3"]
