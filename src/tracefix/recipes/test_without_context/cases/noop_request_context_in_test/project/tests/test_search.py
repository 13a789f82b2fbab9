from search import search_terms


def test_search_terms_split_the_query(app):
    with app.app_context():
        assert search_terms() == []
