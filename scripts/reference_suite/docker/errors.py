"""The docker SDK's exception names the reference's fixtures catch."""


class DockerException(Exception):
    pass


class APIError(DockerException):
    def is_server_error(self) -> bool:
        return False


class ImageNotFound(DockerException):
    pass


class NotFound(DockerException):
    pass
