from flask import Flask
from flask import Response
from flask import current_app
from flask import request
from flask import stream_with_context


def create_app(config=None):
    app = Flask(__name__)
    app.config["EXPORT_ROWS"] = 3
    app.config.update(config or {})

    @app.get("/export.csv")
    def export():
        def rows():
            yield "n,square\n"
            for n in range(int(request.args.get("rows", current_app.config["EXPORT_ROWS"]))):
                yield f"{n},{n * n}\n"

        response = Response(stream_with_context(rows()), mimetype="text/csv")

        @response.call_on_close
        def audit():
            current_app.logger.warning("export downloaded by %s", request.remote_addr)

        return response

    return app


if __name__ == "__main__":
    response = create_app().test_client().get("/export.csv?rows=2")
    print(response.get_data(as_text=True), end="")
    response.close()
