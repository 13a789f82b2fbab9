from gallery import app


@app.get("/")
def index():
    return {"thumbnail_size": app.config["THUMBNAIL_SIZE"]}
