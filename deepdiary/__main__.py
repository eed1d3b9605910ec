from deepdiary.cli import app

if __name__ == "__main__":  # not when a worker process imports it
    app(prog_name="deepdiary")
