"""DecentralML client: the marketplace on a Substrate chain, storage, validation and federation."""
