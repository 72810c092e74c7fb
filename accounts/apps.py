from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    # allauth's own app is also labelled "Accounts" in the admin.
    verbose_name = "Readers"

    def ready(self):
        from . import merge_rules

        merge_rules.register()  # catalog's book merge knows readers' rows only through these rules
