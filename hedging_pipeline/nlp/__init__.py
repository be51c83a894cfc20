"""Semantic peers: description cleaning, chunking, embeddings, peers, evaluation, clusters."""
