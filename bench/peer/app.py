"""The peer: what a user would write instead of installing semrec.

The seed's stack, as plainly as it is usually written: FastAPI + uvicorn,
sentence-transformers (all-MiniLM-L6-v2), psycopg 3 + pgvector, one k-NN query
on semrec's own `items` table. `scripts/bench-peer.sh` runs it next to semrec
under the same load generator.

Environment:
  PEER_DATABASE_URL  postgresql://... of the database semrec serves
  PEER_MODEL         folder of the sentence-transformers model (loaded from disk only)
  PEER_POOL          connections per worker (default 8)
"""

import os

# No hub access: the model comes from the repository's folder or not at all
# (set before huggingface_hub is imported, which reads it once).
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from fastapi import FastAPI
from pgvector.psycopg import register_vector
from psycopg_pool import ConnectionPool
from pydantic import BaseModel, Field
from sentence_transformers import SentenceTransformer

model = SentenceTransformer(os.environ["PEER_MODEL"], device="cpu", local_files_only=True)
pool = ConnectionPool(
    os.environ["PEER_DATABASE_URL"],
    min_size=1,
    max_size=int(os.environ.get("PEER_POOL", "8")),
    configure=register_vector,
    open=True,
)
app = FastAPI()


class Request(BaseModel):
    interests: list[str] = Field(min_length=1, max_length=50)
    k: int = Field(default=10, ge=1, le=100)


# A plain `def`: FastAPI runs it on its thread pool, so one slow encode does
# not stop the event loop (an `async def` here would serialise every request).
@app.post("/recommend")
def recommend(req: Request):
    vector = model.encode(" ".join(req.interests), normalize_embeddings=True)
    with pool.connection() as conn:
        rows = conn.execute(
            "SELECT id, title FROM items ORDER BY embedding <=> %s LIMIT %s",
            (vector, req.k),
        ).fetchall()
    return {"items": [{"id": i, "title": t} for i, t in rows]}


@app.get("/health")
def health():
    return {"ok": True}
