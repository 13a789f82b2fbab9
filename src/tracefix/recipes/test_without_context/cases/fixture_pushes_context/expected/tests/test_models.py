from blog.models import Post


def test_publish_makes_a_slug(app):
    post = Post.publish("Hello, World!")
    assert post.slug == "hello-world"


def test_posts_are_listed(client):
    Post.publish("First post")
    assert client.get("/posts").get_json() == ["first-post"]
