"""AgentCore Runtime entry point (copied to ``main.py`` at the root of the code package)."""

from agent.runtime import create_app

app = create_app()

if __name__ == "__main__":
    app.run()
