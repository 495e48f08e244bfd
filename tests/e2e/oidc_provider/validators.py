from oauth2_provider.oauth2_validators import OAuth2Validator


class GroupsClaimValidator(OAuth2Validator):
    """Puts the user's profile and their Django groups' names (the `groups` claim, scope "groups") in the ID
    token and the userinfo answer, as an enterprise identity provider does."""

    oidc_claim_scope = {**OAuth2Validator.oidc_claim_scope, "groups": "groups"}

    def get_additional_claims(self, request):
        user = request.user
        return {"preferred_username": user.username, "email": user.email, "given_name": user.first_name,
                "family_name": user.last_name,
                "groups": sorted(user.groups.values_list("name", flat=True))}
