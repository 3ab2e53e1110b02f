"""The dashboard's tabs; each pane only draws what the app hands it and posts messages for actions."""
