"""Follow the event stream from the start, as the dashboard does."""

from events import create_app

client = create_app().test_client()
print(client.get("/events/stream?since=0").get_data(as_text=True), end="")
